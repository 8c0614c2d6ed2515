"""Scanning captured log output for a patient's details, as whole tokens.

A DOB year or a balance searched as a bare substring also matches inside our own random ids
(``obx_…41958…``), client ports and clock digits, which made PHI checks fail at random. A detail is
found when it stands on its own: not preceded or followed by a letter or digit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def leaked(text: str, details: Iterable[str]) -> list[str]:
    """The details that appear in ``text`` as whole tokens."""
    return [d for d in details if re.search(rf"(?<![0-9A-Za-z]){re.escape(d)}(?![0-9A-Za-z])", text)]
