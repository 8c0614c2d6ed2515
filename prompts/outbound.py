"""Templates of the outbound channels (`outbound_channels.<lang>.yaml`): e-mails, the voicemail and
its follow-up text. Same placeholder and `[[flag| text]]` syntax as the agent's lines; a language
without a file, or a key it does not translate, falls back to English."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from prompts.loader import FALLBACK_LANG, PromptError, fill

_DIR = Path(__file__).parent


@cache
def _templates(lang: str) -> dict[str, Any]:
    path = _DIR / f"outbound_channels.{lang}.yaml"
    if not path.is_file():
        if lang == FALLBACK_LANG:
            raise PromptError(f"missing {path}")
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise PromptError(f"{path.name} must be a mapping of key -> template")
    return data


def render_outbound(key: str, part: str | None = None, *, lang: str = "en", **vars: Any) -> str:
    """Render template `key` (and, for e-mails, its `part`: "subject" or "text")."""
    entry = _templates(lang).get(key)
    if entry is None:
        entry = _templates(FALLBACK_LANG).get(key)
    if entry is None:
        raise PromptError(f"no outbound template {key!r}")
    if part is not None:
        entry = entry.get(part) if isinstance(entry, dict) else None
    if not isinstance(entry, str):
        raise PromptError(f"outbound template {key!r} has no text{f' for {part!r}' if part else ''}")
    return fill(entry, vars, what=f"outbound template {key!r} ({lang})")
