"""Text helpers shared by local providers: stop sequences and a plain chat format."""

from __future__ import annotations

from collections.abc import Sequence

from lanza.llm.providers.base import ChatMessage


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """The text up to the first stop sequence, and whether one was found."""
    hits = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    if not hits:
        return text, False
    return text[: min(hits)], True


class StopScanner:
    """Streams text out while holding back what could be the start of a stop sequence."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self.hold = max((len(s) for s in self.stops), default=1) - 1
        self.buffer = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """Text that is safe to emit now (never part of a stop sequence)."""
        if self.stopped:
            return ""
        self.buffer += text
        head, found = cut_at_stop(self.buffer, self.stops)
        if found:
            self.buffer, self.stopped = "", True
            return head
        cut = max(len(self.buffer) - self.hold, 0)
        out, self.buffer = self.buffer[:cut], self.buffer[cut:]
        return out

    def flush(self) -> str:
        """What is left when generation ends."""
        out, self.buffer = ("" if self.stopped else self.buffer), ""
        return out


def plain_chat_prompt(messages: Sequence[ChatMessage]) -> str:
    """A chat as text, for tokenizers that carry no chat template."""
    lines = [f"{m.role}: {m.text()}" for m in messages]
    return "\n".join([*lines, "assistant:"])
