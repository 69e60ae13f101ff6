"""Stop sequences, in one piece and while streaming, and prompt rendering."""

from __future__ import annotations

import pytest

from lanza.errors import InvalidInputError
from lanza.llm.prompts.render import render_messages, render_text, variables_of
from lanza.llm.providers.text import StopScanner, cut_at_stop


def test_cut_at_the_earliest_stop() -> None:
    assert cut_at_stop("a b STOP c END", ["END", "STOP"]) == ("a b ", True)
    assert cut_at_stop("a b", ["x"]) == ("a b", False)
    assert cut_at_stop("a b", []) == ("a b", False)


@pytest.mark.parametrize("pieces", [["hello wor", "ld<e", "nd> after"], list("hello world<end>x")])
def test_scanner_never_emits_part_of_a_stop(pieces: list[str]) -> None:
    scanner = StopScanner(["<end>"])
    out = [scanner.feed(p) for p in pieces]
    assert "".join(out) + scanner.flush() == "hello world"
    assert scanner.stopped
    assert all("<" not in piece for piece in out)


def test_scanner_without_stop_passes_everything() -> None:
    scanner = StopScanner([])
    assert scanner.feed("abc") == "abc"
    assert scanner.flush() == ""
    held = StopScanner(["###"])
    assert held.feed("ab#") == "a"
    assert held.flush() == "b#"


def test_render_text_and_chat_templates() -> None:
    assert render_text("Hi {{ name }}, {{name}}!", {"name": "Ada"}) == "Hi Ada, Ada!"
    chat = [{"role": "system", "content": "Be {{tone}}"}, {"role": "user", "content": "{{q}}"}]
    assert variables_of(chat) == ["tone", "q"]
    messages = render_messages(chat, {"tone": "brief", "q": "why?"})
    assert [(m.role, m.content) for m in messages] == [("system", "Be brief"), ("user", "why?")]
    assert render_messages("Q: {{q}}", {"q": 1})[0].content == "Q: 1"
    with pytest.raises(InvalidInputError, match="tone, q"):
        render_messages(chat, {})
