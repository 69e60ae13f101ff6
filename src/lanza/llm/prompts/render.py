"""Rendering ``{{variable}}`` templates, text or chat, with a clear error for a missing one."""

from __future__ import annotations

import re
from typing import Any

from lanza.errors import InvalidInputError
from lanza.llm.providers.base import ChatMessage

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")


def variables_of(template: str | list[dict[str, Any]]) -> list[str]:
    """The placeholders a template uses, in order of first use."""
    texts = (
        [template] if isinstance(template, str) else [str(m.get("content", "")) for m in template]
    )
    seen: dict[str, None] = {}
    for text in texts:
        for name in PLACEHOLDER.findall(text):
            seen.setdefault(name, None)
    return list(seen)


def require_variables(template: str | list[dict[str, Any]], variables: dict[str, Any]) -> None:
    """A 400 naming every variable the template needs and ``variables`` lacks."""
    missing = [name for name in variables_of(template) if variables.get(name) is None]
    if missing:
        raise InvalidInputError(
            f"The prompt needs the variable(s) {', '.join(missing)}; pass them in 'variables'."
        )


def render_text(template: str, variables: dict[str, Any]) -> str:
    """Fill every ``{{name}}``; a missing variable is a 400 naming it."""
    require_variables(template, variables)
    return PLACEHOLDER.sub(lambda m: str(variables[m.group(1)]), template)


def render_messages(
    template: str | list[dict[str, Any]], variables: dict[str, Any]
) -> list[ChatMessage]:
    """A template as chat messages: a text template is one user message."""
    require_variables(template, variables)
    if isinstance(template, str):
        return [ChatMessage(role="user", content=render_text(template, variables))]
    return [
        ChatMessage(
            role=str(m.get("role", "user")),
            content=render_text(str(m.get("content", "")), variables),
        )
        for m in template
    ]
