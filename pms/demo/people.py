"""Households of the synthetic population: names, birthdays, contact points, time zones, languages.

A household is one or two guarantor accounts ("families" in PMS terms): usually one guarantor with
spouse and children; sometimes an adult in the household is their own guarantor (split guarantors).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from pms.demo.names import (
    AWAY_ZONES,
    FAR_ZONES,
    FEMALE_FIRST,
    HISPANIC_FEMALE_FIRST,
    HISPANIC_LAST_NAMES,
    HISPANIC_MALE_FIRST,
    HOME_ZONE,
    LAST_NAMES,
    MALE_FIRST,
    OTHER_LANGUAGES,
    OVERFLOW_CENTRAL_AREA_CODES,
    Zone,
)
from pms.types import ContactPoint, Flag, Patient, PreferredContact, SmsConsent

_OTHER_SURNAMES = {
    "vi": ("Nguyen", "Tran", "Le", "Pham"),
    "so": ("Mohamed", "Ali", "Hassan", "Abdi", "Warsame", "Yusuf"),
    "ru": ("Ivanov", "Petrov", "Volkov", "Sokolov"),
    "hmn": ("Vang", "Yang", "Xiong", "Lor", "Her", "Thao"),
    "ar": ("Haddad", "Khalil", "Nasser", "Saleh"),
}
_SIZE_WEIGHTS = ((1, 45), (2, 25), (3, 15), (4, 10), (5, 3), (6, 1.5), (7, 0.5))
_SMS = (("yes", 55), ("unknown", 35), ("no", 10))
_PREFERRED: tuple[tuple[PreferredContact, float], ...] = (
    ("mobile", 40),
    ("text", 25),
    ("email", 15),
    ("home", 10),
    ("none", 8),
    ("do_not_call", 2),
)
_EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
_LINES = 9800  # 555-0200 .. 555-9999; 555-0100..0199 are reserved for the named personas


def pick(rng: random.Random, weighted: tuple[tuple[object, float], ...]) -> object:
    """One item of a (value, weight) table."""
    total = sum(w for _, w in weighted)
    x = rng.random() * total
    for value, w in weighted:
        x -= w
        if x < 0:
            return value
    return weighted[-1][0]


class PhoneBook:
    """Hands out unique fictional US numbers NPA-555-XXXX, O(1) each, without a set of used numbers.

    Every area code walks its 9,800 lines in a seeded permutation (start + k*stride mod 9800, stride
    coprime to 9800). A full area code spills into the next one of its zone's list.
    """

    _STRIDES = (1021, 2027, 3061, 4093, 5023, 6007, 7019, 8011, 863, 1553)

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._state: dict[str, list[int]] = {}  # area code -> [start, stride, used]

    def allocate(self, area_codes: tuple[str, ...]) -> str:
        first = area_codes[min(int(self._rng.random() ** 1.6 * len(area_codes)), len(area_codes) - 1)]
        for code in itertools.chain((first,), area_codes, OVERFLOW_CENTRAL_AREA_CODES):
            st = self._state.get(code)
            if st is None:
                st = self._state[code] = [self._rng.randrange(_LINES), self._rng.choice(self._STRIDES), 0]
            if st[2] < _LINES:
                line = 200 + (st[0] + st[2] * st[1]) % _LINES
                st[2] += 1
                return f"+1{code}555{line:04d}"
        raise RuntimeError("demo phone numbers exhausted")


def messy_phone(rng: random.Random, e164: str) -> str:
    """The number as a front desk might have typed it."""
    a, b, c = e164[2:5], e164[5:8], e164[8:]
    style = rng.random()
    if style < 0.35:
        return f"({a}) {b}-{c}"
    if style < 0.60:
        return f"{a}-{b}-{c}"
    if style < 0.75:
        return f"{a}{b}{c}"
    if style < 0.85:
        return f"{a}.{b}.{c}"
    if style < 0.90:
        return f"+1 {a} {b} {c}"
    if style < 0.95:
        return f"1-{a}-{b}-{c}"
    return f"{a} {b} {c}"


@dataclass
class Family:
    """One guarantor account: the guarantor first, then the dependants."""

    guarantor: Patient
    members: list[Patient]
    household: int
    zone: Zone | None
    extra: dict[str, object] = field(default_factory=dict)


def _first_name(rng: random.Random, female: bool, lang: str) -> str:
    if lang == "es" and rng.random() < 0.85:
        return rng.choice(HISPANIC_FEMALE_FIRST if female else HISPANIC_MALE_FIRST)
    return rng.choice(FEMALE_FIRST if female else MALE_FIRST)


def _dob(rng: random.Random, as_of: date, age: int) -> date:
    return as_of - timedelta(days=age * 365 + (age // 4) + rng.randrange(365))


def _zone(rng: random.Random) -> Zone | None:
    x = rng.random()
    if x < 0.90:
        return HOME_ZONE
    if x < 0.96:
        return pick(rng, tuple((z, z.weight) for z in AWAY_ZONES))  # type: ignore[return-value]
    if x < 0.99:
        return pick(rng, tuple((z, z.weight) for z in FAR_ZONES))  # type: ignore[return-value]
    return None


def _email(rng: random.Random, first: str, last: str, counter: Iterator[int]) -> ContactPoint:
    local = f"{first}.{last}".replace(" ", "").replace("'", "")
    local = local.encode("ascii", "ignore").decode() or "patient"
    addr = f"{local}{next(counter)}@{rng.choice(_EMAIL_DOMAINS)}"
    raw = addr if rng.random() < 0.7 else addr.replace(local, local.title(), 1)
    return ContactPoint("email", addr.lower(), "email", "unknown", False, raw)


@dataclass
class _Adult:
    first: str
    female: bool
    age: int


class PopulationBuilder:
    """Builds random households; keeps the counters that make ids, numbers and emails unique."""

    def __init__(self, rng: random.Random, as_of: date, first_id: int) -> None:
        self.rng = rng
        self.as_of = as_of
        self.ids = itertools.count(first_id)
        self.phones = PhoneBook(rng)
        self.email_counter = itertools.count(1)
        self.households = itertools.count(1000)

    def next_id(self) -> str:
        return str(next(self.ids))

    def household(self, max_size: int) -> list[Family]:
        rng = self.rng
        size = min(int(pick(rng, _SIZE_WEIGHTS)), max_size)  # type: ignore[call-overload]
        zone = _zone(rng)
        x = rng.random()
        lang = "en" if x < 0.85 else "es" if x < 0.97 else rng.choice(OTHER_LANGUAGES)
        if lang == "es":
            last = rng.choice(HISPANIC_LAST_NAMES)
        elif lang in _OTHER_SURNAMES:
            last = rng.choice(_OTHER_SURNAMES[lang])
        else:
            last = rng.choice(LAST_NAMES)
        hh = next(self.households)

        adults: list[_Adult] = []
        head_age = rng.randint(22, 86) if size == 1 else rng.randint(26, 70)
        head_female = rng.random() < 0.55
        adults.append(_Adult(_first_name(rng, head_female, lang), head_female, head_age))
        n_children = size - 1
        if size >= 2 and ((size == 2 and rng.random() < 0.6) or (size > 2 and rng.random() < 0.75)):
            age = max(20, head_age + rng.randint(-6, 6))
            adults.append(_Adult(_first_name(rng, not head_female, lang), not head_female, age))
            n_children -= 1
        children: list[_Adult] = []
        for _ in range(n_children):
            oldest = min(a.age for a in adults) - 20
            age = (
                rng.randint(1, max(1, min(oldest, 17)))
                if oldest < 18 or rng.random() < 0.85
                else rng.randint(18, min(oldest, 24))
            )
            female = rng.random() < 0.5
            children.append(_Adult(_first_name(rng, female, lang), female, age))

        home: list[str | None] = [self._home_line(zone) if rng.random() < 0.30 else None]
        tz = zone.timezone if zone else None
        state = zone.state if zone else None
        postal = rng.choice(zone.zips) if zone else None

        def person(p: _Adult, gid: str | None, pid: str, shared_mobile: str | None = None) -> Patient:
            contacts, pref, flags = self._contacts(p, last, zone, home, shared_mobile)
            return Patient(
                patient_id=pid,
                guarantor_id=gid or pid,
                first_name=p.first,
                last_name=last,
                date_of_birth=_dob(rng, self.as_of, p.age),
                contacts=contacts,
                timezone=tz,
                language=lang if p.age >= 18 or lang != "es" or rng.random() < 0.5 else "en",
                preferred_contact=pref,
                postal_code=postal,
                state=state,
                flags=flags,
                note="Wrong number: the cell on file reaches someone else" if flags else "",
            )

        head_id = self.next_id()
        head = person(adults[0], None, head_id)
        families = [Family(head, [head], hh, zone)]
        if len(adults) > 1:
            share = rng.random() < 0.04 and bool(head.phones) and head.phones[0].kind == "mobile"
            split = rng.random() < 0.10
            pid = self.next_id()
            spouse = person(
                adults[1], None if split else head_id, pid, head.phones[0].value if share else None
            )
            if share:
                spouse = replace(
                    spouse, note="; ".join(filter(None, (spouse.note, "Shares a cell phone with spouse")))
                )
            if split:
                families.append(Family(spouse, [spouse], hh, zone))
            else:
                families[0].members.append(spouse)
        for child in children:
            families[0].members.append(person(child, head_id, self.next_id()))
        return families

    def _home_line(self, zone: Zone | None) -> str:
        return self.phones.allocate(zone.area_codes if zone else HOME_ZONE.area_codes)

    def _contacts(
        self, p: _Adult, last: str, zone: Zone | None, home: list[str | None], shared_mobile: str | None
    ) -> tuple[tuple[ContactPoint, ...], PreferredContact, frozenset[str]]:
        """Phones, email and preferred method of one person; `home` is the household's landline slot."""
        rng = self.rng
        contacts: list[ContactPoint] = []
        flags: frozenset[str] = frozenset()
        pref: PreferredContact = "none"
        if p.age >= 18:
            # Preference first, then phones that fit it, keeping mobile 90% / landline-only 7% / none 3%.
            pref = pick(rng, _PREFERRED)  # type: ignore[assignment]
            x = rng.random()
            if pref in ("mobile", "text"):
                kind = "mobile"
            elif pref == "home":
                kind = "home" if x < 0.4 else "mobile+home"
            else:
                kind = "mobile" if x < 0.76 else "home" if x < 0.88 else "none"
        elif p.age >= 13 and rng.random() < 0.5:
            kind = "mobile"
        else:
            kind = "home" if home[0] else "none"
        if kind in ("home", "mobile+home") and home[0] is None:
            home[0] = self._home_line(zone)
        if kind.startswith("mobile"):
            if shared_mobile:
                number = shared_mobile
            else:
                away = zone is not None and zone is not HOME_ZONE and rng.random() < 0.4
                codes = HOME_ZONE.area_codes if zone is None or away else zone.area_codes
                number = self.phones.allocate(codes)
            consent: SmsConsent = pick(rng, _SMS)  # type: ignore[assignment]
            contacts.append(ContactPoint("phone", number, "mobile", consent, False, messy_phone(rng, number)))
            if rng.random() < 0.015:
                flags = frozenset({Flag.WRONG_NUMBER.value})
        home_line = home[0]
        if home_line and kind != "none":
            contacts.append(
                ContactPoint("phone", home_line, "home", "unknown", False, messy_phone(rng, home_line))
            )
        if p.age >= 18 and (pref == "email" or rng.random() < 0.647):
            contacts.append(_email(rng, p.first, last, self.email_counter))
        return mark_preferred(tuple(contacts), pref), pref, flags


def mark_preferred(contacts: tuple[ContactPoint, ...], pref: PreferredContact) -> tuple[ContactPoint, ...]:
    """Set is_preferred on the contact point the preferred method points at."""
    want = {"mobile": "mobile", "text": "mobile", "home": "home", "work": "work", "email": "email"}.get(pref)
    return tuple(replace(c, is_preferred=c.kind == want) for c in contacts)
