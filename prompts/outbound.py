"""Templates of the outbound channels (`outbound_channels.<lang>.yaml`): e-mails, the voicemail and
its follow-up text. Same placeholder and `[[flag| text]]` syntax as the agent's lines; a language
without a file, or a key it does not translate, falls back to English."""

from __future__ import annotations

from typing import Any

from prompts.loader import FALLBACK_LANG, PromptError, fill, load_catalogue


def _templates(lang: str) -> dict[str, Any]:
    return load_catalogue("outbound_channels", lang)


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
