"""Render the agent's lines and system prompt from the data files next to this module.

Line files are `lines.<lang>.yaml`: `key -> text` (same text on both channels) or
`key -> {sms: text, voice: text}`. Templates use `{var}` placeholders and optional sections
`[[flag| text ]]`, kept only when `flag` is truthy. Callers may pass extra variables (they are
ignored); a missing key, channel or variable raises `PromptError` naming it. A language without
a file, or a key its file does not translate, falls back to English (a patient's PMS language
can be anything; English is the complete set).

This package imports nothing of ours: callers hand in plain values (practice name, phone, ...).
"""

from __future__ import annotations

import re
import string
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

PromptChannel = Literal["sms", "voice"]
CHANNELS: tuple[str, ...] = ("sms", "voice")
_DIR = Path(__file__).parent
_SECTION = re.compile(r"\[\[(\w+)\|(.*?)\]\]", re.DOTALL)
_FORMATTER = string.Formatter()


class PromptError(LookupError):
    """A prompt key, channel, language or template variable is missing."""


FALLBACK_LANG = "en"


@cache
def load_catalogue(stem: str, lang: str) -> dict[str, Any]:
    """`prompts/{stem}.{lang}.yaml` as a mapping; {} for a language without one (the fallback
    language's file must exist)."""
    path = _DIR / f"{stem}.{lang}.yaml"
    if not path.is_file():
        if lang == FALLBACK_LANG:
            raise PromptError(f"missing {path}")
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise PromptError(f"{path.name} must be a mapping of key -> text")
    return data


def _lines(lang: str) -> dict[str, Any]:
    return load_catalogue("lines", lang)


def languages() -> list[str]:
    """Languages with a line file."""
    return sorted(p.name.split(".")[1] for p in _DIR.glob("lines.*.yaml"))


def keys(lang: str = FALLBACK_LANG) -> list[str]:
    """Line keys translated in `lang` (its own file only)."""
    return sorted(_lines(lang))


def template(key: str, *, channel: str, lang: str = "en") -> str:
    """The raw template for `key` on `channel` in `lang`."""
    if channel not in CHANNELS:
        raise PromptError(f"unknown channel {channel!r} for prompt {key!r}; expected one of {CHANNELS}")
    entry = _lines(lang).get(key)
    if entry is None:
        entry = _lines(FALLBACK_LANG).get(key)
    if entry is None:
        raise PromptError(f"no prompt line {key!r}")
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict) and isinstance(entry.get(channel), str):
        return str(entry[channel])
    raise PromptError(f"prompt line {key!r} ({lang}) has no text for channel {channel!r}")


def fill(text: str, vars: dict[str, Any], *, what: str) -> str:
    """Apply optional sections and placeholders; `what` names the template in errors."""

    def section(m: re.Match[str]) -> str:
        flag = m.group(1)
        if flag not in vars:
            raise PromptError(f"{what} needs variable {flag!r}")
        return m.group(2) if vars[flag] else ""

    text = _SECTION.sub(section, text)
    needed = {name for _, name, _, _ in _FORMATTER.parse(text) if name}
    missing = sorted(n for n in needed if n not in vars)
    if missing:
        raise PromptError(f"{what} needs variable(s) {', '.join(repr(n) for n in missing)}")
    return text.format_map(vars).strip()


def render(key: str, *, channel: str, lang: str = "en", **vars: Any) -> str:
    """Render line `key` for `channel` ("sms" | "voice") in `lang`."""
    return fill(template(key, channel=channel, lang=lang), vars, what=f"prompt {key!r} ({lang}/{channel})")


def system_prompt(
    *,
    practice: str,
    phone: str,
    office_hours: str,
    channel: str,
    today: str,
    verified: bool,
    min_monthly: str,
    mask_token: str,
) -> str:
    """The LLM brain's system prompt for one turn (plain values only)."""
    if channel not in CHANNELS:
        raise PromptError(f"unknown channel {channel!r} for the system prompt")
    text = (_DIR / "system.txt").read_text(encoding="utf-8")
    style = (_DIR / f"system.{channel}.txt").read_text(encoding="utf-8")
    values = {
        "practice": practice,
        "phone": phone,
        "office_hours": office_hours,
        "channel_style": style.strip(),
        "today": today,
        "verified": verified,
        "unverified": not verified,
        "min_monthly": min_monthly,
        "mask_token": mask_token,
    }
    return fill(text, values, what="system prompt")
