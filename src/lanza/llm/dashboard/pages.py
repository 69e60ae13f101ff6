"""The LLMOps pages in lanza's web shell: one script each, the LLM stylesheet for all."""

from __future__ import annotations

from lanza.web import page


def llm_page(name: str) -> str:
    """The page whose script is ``/static/llm/{name}.js``, marked ``name`` in the navigation."""
    return page(name, script=f"/static/llm/{name}.js", styles=("/static/llm/llm.css",), here=name)
