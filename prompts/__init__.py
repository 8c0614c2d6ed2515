"""Text templates: system prompts, spoken lines and SMS bodies (data files + a tiny loader)."""

from prompts.loader import PromptError, render, system_prompt

__all__ = ["PromptError", "render", "system_prompt"]
