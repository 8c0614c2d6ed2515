"""Reading the consent/suppression ledger (pure functions over its entries).

Rules (rules-and-protocols.md §E):
- A *subject* is a contact value (phone/e-mail) when the entry names one, else the whole person.
  Entries for a value only ever affect that value; person-wide entries affect every value.
- `opt_out` suppresses its scope (`all` = voice, sms and email) from that moment.
- `opt_in` lifts a suppression for its scope only: START re-enables SMS, never voice (rule 38).
  A value-level opt-in does not lift a person-wide opt-out.
- `consent` records a basis (e.g. provided_number_for_account) and never lifts an opt-out, so a
  routine consent import cannot undo a revocation. A consent older than the latest opt-out of the
  same channel is revoked and not reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from policies.types import ConsentRecord, Suppression, SuppressionScope

CHANNELS: tuple[Literal["voice", "sms", "email"], ...] = ("voice", "sms", "email")
ConsentState = Literal["opted_in", "opted_out", "unknown"]


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    patient_id: str | None
    value: str | None
    scope: str  # all | voice | sms | email
    action: str  # opt_out | opt_in | consent
    basis: str | None
    reason: str | None
    at: datetime


Subject = tuple[str, str]  # ("value", "+1555…") or ("patient", "P1")


@dataclass
class _ChannelView:
    opted_out_by: Entry | None = None
    live_consents: list[Entry] = field(default_factory=list)


def normalise_value(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value.lower() if "@" in value else value


def subject_of(entry: Entry) -> Subject | None:
    if entry.value is not None:
        return ("value", entry.value)
    if entry.patient_id is not None:
        return ("patient", entry.patient_id)
    return None


def _channels(scope: str) -> tuple[str, ...]:
    return CHANNELS if scope == SuppressionScope.ALL.value else ((scope,) if scope in CHANNELS else ())


def _views(entries: Iterable[Entry]) -> dict[Subject, dict[str, _ChannelView]]:
    views: dict[Subject, dict[str, _ChannelView]] = {}
    for e in sorted(entries, key=lambda x: (x.at, x.id)):
        subject = subject_of(e)
        if subject is None:
            continue
        per = views.setdefault(subject, {ch: _ChannelView() for ch in CHANNELS})
        for ch in _channels(e.scope):
            view = per[ch]
            if e.action == "opt_out":
                view.opted_out_by = e
                view.live_consents = []  # revoked
            elif e.action == "opt_in":
                view.opted_out_by = None
                view.live_consents.append(e)
            elif e.action == "consent":
                view.live_consents.append(e)
    return views


def suppressions(entries: Iterable[Entry]) -> tuple[Suppression, ...]:
    out: list[Suppression] = []
    for (kind, key), per in sorted(_views(entries).items()):
        value = key if kind == "value" else None
        by = {ch: v.opted_out_by for ch, v in per.items() if v.opted_out_by is not None}
        if not by:
            continue
        sources = {e.id for e in by.values()}
        if len(by) == len(CHANNELS) and len(sources) == 1:
            e = next(iter(by.values()))
            out.append(Suppression(SuppressionScope.ALL, value, e.at, e.reason or "opt_out"))
            continue
        for ch, e in by.items():
            out.append(Suppression(SuppressionScope(ch), value, e.at, e.reason or "opt_out"))
    return tuple(out)


def consents(entries: Iterable[Entry]) -> tuple[ConsentRecord, ...]:
    out: list[ConsentRecord] = []
    for (kind, key), per in sorted(_views(entries).items()):
        if kind != "value":
            continue  # a ConsentRecord names a number or address
        for ch, view in per.items():
            for e in view.live_consents:
                basis = e.basis or ("sms_opt_in" if e.action == "opt_in" else "none")
                out.append(ConsentRecord(ch, key, basis, e.at))  # type: ignore[arg-type]
    return tuple(out)


def channel_state(
    entries: Iterable[Entry], *, patient_ids: Sequence[str], values: Sequence[str]
) -> dict[str, ConsentState]:
    """Per channel over the given person(s) and contact values: any live opt-out → opted_out;
    else any live consent/opt-in → opted_in; else unknown."""
    wanted: set[Subject] = {("patient", p) for p in patient_ids} | {
        ("value", v) for v in (normalise_value(x) for x in values) if v
    }
    views = [per for subject, per in _views(entries).items() if subject in wanted]
    state: dict[str, ConsentState] = {}
    for ch in CHANNELS:
        if any(per[ch].opted_out_by is not None for per in views):
            state[ch] = "opted_out"
        elif any(per[ch].live_consents for per in views):
            state[ch] = "opted_in"
        else:
            state[ch] = "unknown"
    return state


def suppressed(
    entries: Iterable[Entry], channel: str, *, patient_ids: Sequence[str], values: Sequence[str]
) -> bool:
    """True if a live opt-out over these person(s) or values covers `channel`."""
    return channel_state(entries, patient_ids=patient_ids, values=values).get(channel) == "opted_out"
