"""Wall-clock windows in several zones at once, DST-safe.

A `WindowSpec` is a set of allowed patient-local intervals per day (seconds of the day, half-open)
plus excluded days (Sundays, holidays). An instant is allowed when, in *every* candidate zone, its
local date is not excluded and its local wall time falls in an interval. `next_open` finds the
earliest allowed instant at or after a given one.

Local → UTC conversion never trusts a wall time blindly: a wall time inside a spring-forward gap
maps to the transition instant (the first instant whose wall time is at or past it), and an
ambiguous fall-back wall time maps to its first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

DAY = 86_400
Interval = tuple[int, int]  # [start, end) in seconds since local midnight, 0 <= start < end <= 86400


def seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def clock(sec: int) -> str:
    """Seconds of the day as HH:MM (24:00 for the end of the day)."""
    return f"{sec // 3600:02d}:{sec % 3600 // 60:02d}"


@lru_cache(maxsize=256)
def holiday_dates(country: str, year: int) -> frozenset[date]:
    """Public holidays of `country` in `year` (cached: the `holidays` calendar is slow to build)."""
    return frozenset(holidays.country_holidays(country, years=year).keys())


def intersect(a: tuple[Interval, ...], b: tuple[Interval, ...]) -> tuple[Interval, ...]:
    """Intersection of two sorted disjoint interval lists."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        s, e = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if s < e:
            out.append((s, e))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def restriction(not_before: time | None, not_after: time | None) -> tuple[Interval, ...]:
    """Allowed intervals for a patient's 'not before X' / 'not after Y' (see InconvenientTime)."""
    nb = seconds(not_before) if not_before is not None else None
    na = seconds(not_after) if not_after is not None else None
    if nb is None and na is None:
        return ((0, DAY),)
    if na is None:
        return ((nb or 0, DAY),)
    if nb is None:
        return ((0, na),) if na > 0 else ()
    if nb < na:
        return ((nb, na),)
    # not_before later than not_after: a blackout between not_after and not_before.
    return tuple(iv for iv in ((0, na), (nb, DAY)) if iv[0] < iv[1])


@dataclass(frozen=True, slots=True)
class WindowSpec:
    intervals: tuple[Interval, ...]  # sorted, disjoint, non-empty
    no_sundays: bool = False
    holiday_country: str | None = None

    def excluded(self, d: date) -> str | None:
        """'sunday' / 'holiday' when no contact may start on local date `d`, else None."""
        if self.no_sundays and d.weekday() == 6:
            return "sunday"
        if self.holiday_country and d in holiday_dates(self.holiday_country, d.year):
            return "holiday"
        return None

    def allowed_in(self, z: ZoneInfo, t: datetime) -> bool:
        loc = t.astimezone(z)
        if (self.no_sundays or self.holiday_country) and self.excluded(loc.date()):
            return False
        sec = loc.hour * 3600 + loc.minute * 60 + loc.second
        for s, e in self.intervals:  # noqa: SIM110 - a plain loop: this is the gate's hottest line
            if s <= sec < e:
                return True
        return False

    def allowed(self, zones: tuple[ZoneInfo, ...], t: datetime) -> bool:
        if not self.intervals:
            return False
        for z in zones:  # noqa: SIM110
            if not self.allowed_in(z, t):
                return False
        return True


@lru_cache(maxsize=65_536)
def local_instant(d: date, sec: int, z: ZoneInfo) -> datetime:
    """The earliest instant whose wall time in `z` is at or after (d, sec), as an aware UTC datetime.

    Memoised: a pure function of (day, second, zone), and the planner asks for the same local
    midnights and window openings for thousands of accounts."""
    wall = datetime.combine(d, time(sec // 3600, sec % 3600 // 60, sec % 60))
    first = wall.replace(tzinfo=z).astimezone(UTC)
    if first.astimezone(z).replace(tzinfo=None) == wall:
        return first  # a real wall time (fold=0 picks the first of two in a fall-back hour)
    # In a spring-forward gap: fold=1 maps before the gap, fold=0 after it. Bisect (whole seconds,
    # as transitions are) for the first instant whose wall time reaches `wall`.
    lo = int(wall.replace(tzinfo=z, fold=1).timestamp())
    hi = int(first.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, z).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def _next_open_in_zone(spec: WindowSpec, z: ZoneInfo, t: datetime, limit: date) -> datetime | None:
    loc = t.astimezone(z)
    d = loc.date()
    if not spec.excluded(d):
        sec = loc.hour * 3600 + loc.minute * 60 + loc.second
        for s, e in spec.intervals:
            if sec < e:
                if sec >= s:
                    return t
                cand = local_instant(d, s, z)
                if cand > t:
                    return cand
    d += timedelta(days=1)
    while d <= limit:
        if not spec.excluded(d):
            for s, _ in spec.intervals:
                cand = local_instant(d, s, z)
                if cand >= t:
                    return cand
        d += timedelta(days=1)
    return None


def next_open(
    spec: WindowSpec, zones: tuple[ZoneInfo, ...], t: datetime, horizon_days: int = 400
) -> datetime | None:
    """The earliest instant >= t allowed in every zone; None if none within `horizon_days`.

    Each zone's next opening is a lower bound for the common one, so iterating "jump to the latest
    per-zone opening" climbs to the least common instant (or past the horizon when the zones'
    windows never overlap).

    Memoised per (spec, zones, instant): the search depends on the instant only, not on `t`'s
    tzinfo, so it runs on `t` in UTC and `t` itself is returned when it is already open.
    """
    if not spec.intervals or not zones:
        return None
    found = _next_open(spec, zones, t.astimezone(UTC), horizon_days)
    return t if found == t else found


@lru_cache(maxsize=16_384)
def _next_open(
    spec: WindowSpec, zones: tuple[ZoneInfo, ...], t: datetime, horizon_days: int
) -> datetime | None:
    limit = t.astimezone(zones[0]).date() + timedelta(days=horizon_days)
    cur = t
    for _ in range(4 * horizon_days):
        nxt = cur
        for z in zones:
            cand = _next_open_in_zone(spec, z, nxt, limit)
            if cand is None:
                return None
            nxt = max(nxt, cand)
        if nxt == cur and spec.allowed(zones, cur):
            return cur
        cur = nxt
    return None
