"""The README's tracing example runs as written and lands in the local store."""

from __future__ import annotations

from pathlib import Path

from lanza import tracing
from lanza.llm.tracing.queries import TraceQuery, TraceReader
from lanza.store import Database

README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_readme_example_traces_into_the_local_store(home: Path) -> None:
    section = README.read_text().split("## Tracing", 1)[1].split("\n## ", 1)[0]
    example = section.split("```python", 1)[1].split("```", 1)[0]
    try:
        exec(compile(example, "README.md", "exec"), {})
    finally:
        tracing.configure(sink=None)
    database = Database(f"sqlite:///{home / 'lanza.db'}")
    reader = TraceReader(database)
    (summary,) = reader.list(TraceQuery())["traces"]
    assert (summary["name"], summary["total_tokens"], summary["tags"]) == ("answer", 49, ["demo"])
    (root,) = reader.get(summary["trace_id"])["spans"]
    assert root["inputs"] == {"question": "How often are tides?", "email": "***"}
    assert [c["name"] for c in root["children"]] == ["retrieve", "generate"]
    database.dispose()
