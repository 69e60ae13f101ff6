"""Upload folders: old ones are deleted, recent ones kept."""

from __future__ import annotations

import os
import time
from pathlib import Path

from lanza.pages.upload import Uploads


def test_purge_deletes_only_old_uploads(tmp_path: Path) -> None:
    uploads = Uploads(tmp_path / "uploads", None, 10, 10, lambda: None)  # type: ignore[arg-type]
    assert uploads.purge(60) == 0
    for name, age in [("old", 7200.0), ("new", 10.0)]:
        folder = tmp_path / "uploads" / name
        folder.mkdir(parents=True)
        meta = folder / "upload.json"
        meta.write_text("{}")
        past = time.time() - age
        os.utime(meta, (past, past))
    assert uploads.purge(3600) == 1
    assert [p.name for p in (tmp_path / "uploads").iterdir()] == ["new"]
