"""The guardrail checks on plain text: what each finds, rewrites or refuses."""

from __future__ import annotations

import pytest

from lanza.errors import InvalidInputError
from lanza.llm.gateway.store import parse_spec
from lanza.llm.guardrails import Guardrails, screen

TEXT = (
    "Mail ana.perez@example.com or call +34 612 345 678; card 4111 1111 1111 1111, "
    "IBAN ES91 2100 0418 4502 0005 1332. Card 4111 1111 1111 1112 fails Luhn."
)


def test_pii_is_redacted_by_kind_and_counted() -> None:
    rails = Guardrails(pii=["email", "phone", "card", "iban"])
    out = screen(TEXT, rails, "input")
    assert out.blocked is None
    assert out.text == (
        "Mail [EMAIL] or call [PHONE]; card [CARD], IBAN [IBAN]. "
        "Card 4111 1111 1111 1112 fails Luhn."
    )
    assert {f.check for f in out.findings} == {"pii:email", "pii:phone", "pii:card", "pii:iban"}


def test_flag_keeps_the_text_and_block_names_the_check() -> None:
    flagged = screen(TEXT, Guardrails(pii=["email"], pii_action="flag"), "input")
    assert flagged.text == TEXT
    assert [f.view() for f in flagged.findings] == [
        {"check": "pii:email", "side": "input", "action": "flag", "count": 1}
    ]
    blocked = screen(TEXT, Guardrails(pii=["card"], pii_action="block"), "input")
    assert blocked.blocked == "personal data: card"


def test_banned_words_whole_words_any_case() -> None:
    rails = Guardrails(banned_words=["secret", "acme corp"], banned_action="redact")
    out = screen("The SECRET of Acme Corp is secretive.", rails, "output")
    assert out.text == "The [REDACTED] of [REDACTED] is secretive."
    assert out.findings[0].detail == "acme corp, secret"
    assert screen("all fine", rails, "output").findings == []


def test_length_and_json_schema_on_output_only() -> None:
    schema = {
        "type": "object",
        "required": ["answer"],
        "properties": {"answer": {"type": "string"}},
    }
    rails = Guardrails(max_chars=10, length_action="redact", json_schema=schema)
    assert screen("not json at all", rails, "input").text == "not json a"
    out = screen('{"answer": 3}', Guardrails(json_schema=schema), "output")
    assert out.blocked == "json schema (3 is not of type 'string' at /answer)"
    assert screen('{"answer": "x"}', Guardrails(json_schema=schema), "output").findings == []
    assert "not JSON" in str(screen("{oops", Guardrails(json_schema=schema), "output").blocked)


def test_sides_limit_where_checks_run() -> None:
    rails = Guardrails(pii=["email"], sides=["output"])
    assert screen("a@b.io", rails, "input").findings == []
    assert screen("a@b.io", rails, "output").text == "[EMAIL]"


def test_a_bad_schema_is_a_clear_error() -> None:
    with pytest.raises(
        InvalidInputError, match=r"guardrails\.json_schema.*not a valid JSON schema"
    ):
        parse_spec(
            {
                "name": "g",
                "provider": "openai",
                "base_url": "http://x/v1",
                "model": "m",
                "guardrails": {"json_schema": {"type": "nonsense"}},
            }
        )
