"""PMS write requests as outbox rows: kind names, JSON payloads, and the idempotency marker.

The marker `[cx:XXXXXXXX]` is 8 base32 characters of SHA-256(idempotency_key). It is appended to
the request's free-text note on one line before the row is stored, so every attempt sends the
same text and an adapter (or a person reading the PMS) can find a write that already landed.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from typing import Any, get_args, get_type_hints

from pms.types import (
    CommLogWrite,
    ContactPreferenceWrite,
    PaymentPlanWrite,
    PaymentWrite,
    PromiseWrite,
)
from pms.writeback import marked_note, marker_for
from tools.context import PmsWrite

# kind -> (request class, PmsAdapter method name)
KINDS: dict[str, tuple[type[Any], str]] = {
    "comm_log": (CommLogWrite, "write_comm_log"),
    "promise": (PromiseWrite, "record_promise"),
    "payment": (PaymentWrite, "record_payment"),
    "payment_plan": (PaymentPlanWrite, "create_payment_plan"),
    "contact_preferences": (ContactPreferenceWrite, "update_contact_preferences"),
}
_KIND_OF = {cls: kind for kind, (cls, _) in KINDS.items()}
__all__ = ["KINDS", "decode", "encode", "kind_of", "marker_for", "with_marker"]


def kind_of(req: PmsWrite) -> str:
    try:
        return _KIND_OF[type(req)]
    except KeyError:
        raise TypeError(f"not a PMS write request: {type(req).__name__}") from None


def with_marker(req: PmsWrite) -> PmsWrite:
    """The request with its note on one line and the marker appended (once)."""
    note, _ = marked_note(req.note, req.idempotency_key)
    return dataclasses.replace(req, note=note)


def encode(req: PmsWrite) -> dict[str, Any]:
    """JSON-able payload: Decimal → str, date/datetime → ISO 8601, plus `kind`."""
    out: dict[str, Any] = {"kind": kind_of(req)}
    for f in dataclasses.fields(req):
        value = getattr(req, f.name)
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, date):  # datetime is a date too
            value = value.isoformat()
        out[f.name] = value
    return out


def decode(payload: dict[str, Any]) -> PmsWrite:
    cls, _ = KINDS[payload["kind"]]
    hints = _HINTS[cls]
    kwargs = {name: _convert(payload[name], hints[name]) for name in hints if name in payload}
    req: PmsWrite = cls(**kwargs)
    return req


def _hints(cls: type[Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in get_type_hints(cls).items() if k in names}


_HINTS = {cls: _hints(cls) for cls, _ in KINDS.values()}


def _convert(value: Any, hint: Any) -> Any:
    if value is None:
        return None
    types = set(get_args(hint)) | {hint}
    if Decimal in types:
        return Decimal(str(value))
    if datetime in types:
        return datetime.fromisoformat(value)
    if date in types:
        return date.fromisoformat(value)
    return value
