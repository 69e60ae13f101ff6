"""Uploads: predictions for a whole file, returned as a file to download.

A file is validated first (see ``validation``). Its good rows are predicted through the
shared data plane in requests of at most ``max_rows_per_request`` rows, so they are
logged and monitored like any other traffic; a file with more good rows than
``batch_rows`` is handed to a batch job instead, whose progress the page polls. Either
way the answer is one file with every uploaded row: its values, the prediction, the
probability of the predicted class, the row's warnings in words (values the model never
saw in training, empty cells), and for a bad row the reason it was not predicted.
Uploads live under ``<home>/pages/uploads/<id>`` and are deleted after the monitoring
retention (``LANZA_MONITORING__RETENTION_DAYS``), like the prediction log.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from lanza.errors import ConflictError, NotFoundError
from lanza.pages.validation import Checked
from lanza.serving.dataplane import DataPlane, InferenceRequest
from lanza.serving.payload import Payload

LINE = "_line"
# OWASP's CSV-injection rule: a cell starting with one of these is a formula to a spreadsheet.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def neutralise(value: Any) -> Any:
    """A cell no spreadsheet runs: text that would start a formula gets a leading ``'``.

    Plain numbers (``-1.5``, ``+3``) stay as they are; they are data, not formulas.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START) and not NUMBER.match(value):
        return "'" + value
    return value


RESULT = "result.csv"


@dataclass
class Upload:
    """One uploaded file and where its predictions stand."""

    id: str
    deployment: str
    filename: str
    model: str
    rows: int
    good: int
    bad: int
    state: str
    created_at: str
    job_id: str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


class Uploads:
    """Runs uploads and keeps their files; batch jobs come from ``submit_job``."""

    def __init__(
        self,
        folder: Path,
        dataplane: DataPlane,
        max_rows_per_request: int,
        batch_rows: int,
        batch: Callable[[], Any],
    ) -> None:
        self.folder = folder
        self.dataplane = dataplane
        self.max_rows = max_rows_per_request
        self.batch_rows = batch_rows
        self.batch = batch

    async def run(
        self, deployment: str, model: str, filename: str, frame: pd.DataFrame, checked: Checked
    ) -> Upload:
        """Predict the good rows (here, or as a batch job) and keep the result."""
        upload = Upload(
            uuid.uuid4().hex[:16],
            deployment,
            filename,
            model,
            checked.rows,
            len(checked.good),
            checked.bad,
            "running",
            datetime.now(UTC).isoformat(),
        )
        folder = self.folder / upload.id
        # Files are written off the event loop: an upload may be megabytes.
        await asyncio.to_thread(_keep, folder, frame, checked)
        if len(checked.good) > self.batch_rows and self.batch() is not None:
            upload.job_id = await self._submit(folder, model, frame, checked)
        else:
            await self._predict(upload, folder, checked)
        await asyncio.to_thread(self._save, upload)
        return upload

    async def _predict(self, upload: Upload, folder: Path, checked: Checked) -> None:
        predictions: list[Any] = []
        probabilities: list[float | None] = []
        warnings: list[str] = []
        for start in range(0, len(checked.good), self.max_rows):
            columns = {n: v[start : start + self.max_rows] for n, v in checked.inputs.items()}
            count = min(self.max_rows, len(checked.good) - start)
            response = await self.dataplane.infer(
                InferenceRequest(
                    upload.deployment, Payload(columns=columns, count=count), "pages", True
                )
            )
            predictions += response.predictions
            probabilities += _top(response.probabilities(), response.predictions)
            warnings += [" ".join(row) for row in response.warnings] or [""] * count
            upload.model = response.model
        answers = pd.DataFrame(
            {
                LINE: [i + 2 for i in checked.good],
                "prediction": pd.Series(predictions, dtype=object),
                "probability": pd.Series(probabilities, dtype=object),
                "warnings": warnings,
            }
        )
        await asyncio.to_thread(self._assemble, folder, answers, upload.model)
        upload.state = "succeeded"

    async def _submit(self, folder: Path, model: str, frame: pd.DataFrame, checked: Checked) -> str:
        from lanza.batch.routes import JobRequest

        typed = pd.DataFrame(checked.inputs)
        for name in frame.columns:
            if name not in typed.columns:
                typed[name] = frame[name].iloc[checked.good].astype(str).to_numpy()
        typed[LINE] = [i + 2 for i in checked.good]
        await asyncio.to_thread(typed.to_parquet, folder / "input.parquet", index=False)
        job = await self.batch().submit(
            JobRequest(
                model=model,
                input=str(folder / "input.parquet"),
                output=str(folder / "out"),
                format="csv",
                keep_columns=[LINE],
                probabilities=True,
            ).options()
        )
        return str(job["id"])

    def _assemble(self, folder: Path, answers: pd.DataFrame, model: str) -> None:
        original = pd.read_csv(
            folder / "original.csv", dtype=str, keep_default_na=False, na_filter=False
        )
        errors = json.loads((folder / "errors.json").read_text())
        original[LINE] = range(2, len(original) + 2)
        merged = original.merge(answers, on=LINE, how="left")
        merged["model"] = [model if pd.notna(p) else "" for p in merged["prediction"]]
        merged["error"] = [_reason(errors.get(str(line - 2), [])) for line in merged[LINE]]
        merged = merged.drop(columns=[LINE])
        _neutralised(merged).to_csv(folder / RESULT, index=False)

    def status(self, deployment: str, upload_id: str) -> Upload:
        """An upload, its batch job's progress folded in; assembles the file when it is done."""
        upload = self._load(deployment, upload_id)
        if upload.state != "running" or upload.job_id is None:
            return upload
        job = self.batch().store.get(upload.job_id)
        if job.state == "succeeded":
            folder = self.folder / upload.id
            self._assemble(folder, _batch_answers(folder / "out"), upload.model)
            upload.state = "succeeded"
        elif job.state in ("failed", "cancelled"):
            upload.state, upload.message = "failed", job.message
        self._save(upload)
        return upload

    def progress(self, upload: Upload) -> dict[str, Any]:
        """The upload with its job's rows done and total, for the progress bar."""
        out = upload.to_dict()
        out["done"] = upload.good if upload.state == "succeeded" else 0
        if upload.job_id is not None and self.batch() is not None:
            job = self.batch().store.get(upload.job_id)
            out["done"] = job.rows_done
            out["job_state"] = job.state
        return out

    def result(self, deployment: str, upload_id: str, fmt: str) -> tuple[bytes, str, str]:
        """The predictions file as CSV or Excel: bytes, media type, file name."""
        upload = self.status(deployment, upload_id)
        if upload.state != "succeeded":
            raise ConflictError(f"Upload '{upload_id}' is {upload.state}; its file is not ready.")
        path = self.folder / upload.id / RESULT
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(upload.filename).stem) + "-predictions"
        if fmt == "xlsx":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
            buffer = io.BytesIO()
            # Every cell goes in as text (already neutralised): openpyxl would otherwise
            # store a string that starts with '=' as a live formula.
            _neutralised(frame).to_excel(buffer, index=False, engine="openpyxl")
            media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            return buffer.getvalue(), media, stem + ".xlsx"
        return path.read_bytes(), "text/csv", stem + ".csv"

    def purge(self, older_than_s: float, now: float | None = None) -> int:
        """Delete uploads last touched more than ``older_than_s`` ago; returns how many."""
        if not self.folder.is_dir():
            return 0
        limit = (now if now is not None else time.time()) - older_than_s
        removed = 0
        for folder in self.folder.iterdir():
            meta = folder / "upload.json"
            touched = meta.stat().st_mtime if meta.exists() else folder.stat().st_mtime
            if folder.is_dir() and touched < limit:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed

    def _save(self, upload: Upload) -> None:
        _write_json(self.folder / upload.id / "upload.json", upload.to_dict())

    def _load(self, deployment: str, upload_id: str) -> Upload:
        path = self.folder / upload_id / "upload.json"
        upload = (
            Upload(**json.loads(path.read_text()))
            if upload_id.isalnum() and path.exists()
            else None
        )
        if upload is None or upload.deployment != deployment:
            raise NotFoundError(f"Deployment '{deployment}' has no upload '{upload_id}'.")
        return upload


def _neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every text cell and header neutralised; dtypes of the rest kept."""
    out = frame.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]):
            out[column] = pd.Series(
                [neutralise(v) for v in out[column]], index=out.index, dtype=object
            )
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def _keep(folder: Path, frame: pd.DataFrame, checked: Checked) -> None:
    folder.mkdir(parents=True)
    frame.to_csv(folder / "original.csv", index=False)
    errors = {str(k): [asdict(p) for p in v] for k, v in checked.errors.items()}
    _write_json(folder / "errors.json", errors)


def _top(probabilities: list[dict[str, float]] | None, predictions: list[Any]) -> list[Any]:
    if probabilities is None:
        return [None] * len(predictions)
    return [p.get(str(y)) for p, y in zip(probabilities, predictions, strict=True)]


def _batch_answers(out: Path) -> pd.DataFrame:
    parts = sorted(out.glob("part-*.csv"))
    frame = (
        pd.concat([pd.read_csv(p, dtype={"prediction": object}) for p in parts])
        if parts
        else pd.DataFrame({LINE: []})
    )
    proba = [c for c in frame.columns if c.startswith("proba_")]
    if proba:
        frame["probability"] = frame[proba].to_numpy().max(axis=1)
    else:
        frame["probability"] = None
    if "warnings" not in frame.columns:
        frame["warnings"] = ""
    frame["warnings"] = frame["warnings"].fillna("")
    return frame[[LINE, "prediction", "probability", "warnings"]]


def _reason(problems: list[dict[str, Any]]) -> str:
    return "; ".join(f"{p['column']}: {p['reason']} (got '{p['value']}')" for p in problems)


def _write_json(path: Path, value: Any) -> None:
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(value))
    temp.replace(path)
