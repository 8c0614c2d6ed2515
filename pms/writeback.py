"""The idempotency marker every write-back carries in its free-text field.

`[cx:XXXXXXXX]` is 8 base32 characters of SHA-256(idempotency key). Embedded on one line in a
comm-log Note, PayNote or plan Note, it lets an adapter find a write that already landed (the
PMS has no idempotency keys) and lets staff see which records BalanceLine made.
"""

from __future__ import annotations

import base64
import hashlib
import re

MARKER = re.compile(r"\[cx:[A-Z2-7]{8}\]")


def marker_for(idempotency_key: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).digest()
    return f"[cx:{base64.b32encode(digest).decode('ascii')[:8]}]"


def marked_note(note: str, idempotency_key: str) -> tuple[str, str]:
    """(note on one line with the key's marker appended once, the marker)."""
    marker = marker_for(idempotency_key)
    text = " ".join(note.split())
    if marker not in text:
        text = f"{text} {marker}" if text else marker
    return text, marker
