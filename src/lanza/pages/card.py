"""Model cards: what lanza knows about a model version, plus what its owner wrote.

Built on request from the registry (version tags: task, target, metric, CV score,
candidate, training rows, latency), the training run (parameters, the leaderboard and
selection artifacts), the reference sample (features), the deployments serving the
version, and the latest monitoring round of each (latency, drift, live quality). The
owner edits only owners, intended use and limitations (kept in ``pages_model_cards``).
"""

from __future__ import annotations

import json
import tempfile
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from lanza.advisor.prices import PriceTable
from lanza.clock import utcnow
from lanza.pages.tables import ModelCardRow
from lanza.runtime.rules import plain_number
from lanza.workspace import Workspace

ARTIFACTS = ("leaderboard.json", "selection.json")


class CardEdit(BaseModel):
    """The fields of a card its owner writes."""

    owners: list[str] = Field(default_factory=list, max_length=50)
    intended_use: str = Field("", max_length=20_000)
    limitations: str = Field("", max_length=20_000)


class ModelCards:
    """Builds cards; ``serving`` and ``monitoring`` are the app's components (may be absent)."""

    def __init__(self, workspace: Workspace, serving: Any, monitoring: Any) -> None:
        self.workspace = workspace
        self.serving = serving
        self.monitoring = monitoring
        self._artifacts: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def build(self, name: str, version: str) -> dict[str, Any]:
        """The card of ``name/version``; 404 when the version does not exist."""
        registry = self.workspace.registry
        info = registry.get_version(name, version)
        aliases = sorted(
            a for a, v in registry.get_model(name).aliases.items() if str(v) == version
        )
        tags = info.tags
        run_id = tags.get("lanza.train_run_id")
        params = self._params(run_id)
        artifacts = self._training_artifacts(run_id)
        return {
            "name": name,
            "version": version,
            "ref": info.ref,
            "aliases": aliases,
            "created_at": info.created_at.isoformat(),
            "archived": info.archived,
            "candidate": tags.get("lanza.candidate"),
            "data": {
                "task": tags.get("lanza.task"),
                "target": tags.get("lanza.target"),
                "classes": json.loads(tags["lanza.classes"]) if "lanza.classes" in tags else None,
                "rows": _int(tags.get("lanza.training_rows")),
                "source": params.get("data"),
                "digest": tags.get("lanza.dataset_digest"),
                "features": self._features(info.ref),
            },
            "training": {
                "metric": tags.get("lanza.metric"),
                "cv_mean": _float(tags.get("lanza.cv_mean")),
                "cv_std": _float(tags.get("lanza.cv_std")),
                "folds": _int(params.get("folds")),
                "selection": artifacts.get("selection.json") or {"reason": info.description},
                "leaderboard": artifacts.get("leaderboard.json") or [],
                "run_id": run_id,
                "latency_ms_per_row": _float(tags.get("lanza.latency_ms_per_row")),
                "cost": self._cost(tags, artifacts.get("leaderboard.json") or []),
            },
            "serving": self._serving(info.ref),
            "owner": self._edits(name, version),
        }

    def edit(self, name: str, version: str, edit: CardEdit, actor: str) -> dict[str, Any]:
        """Save the owner's fields, then return the whole card."""
        self.workspace.registry.get_version(name, version)
        owners = [o.strip() for o in edit.owners if o.strip()]
        with self.workspace.database.session() as session:
            session.merge(
                ModelCardRow(
                    name=name,
                    version=version,
                    owners=owners,
                    intended_use=edit.intended_use,
                    limitations=edit.limitations,
                    updated_by=actor,
                    updated_at=utcnow(),
                )
            )
        return self.build(name, version)

    def _edits(self, name: str, version: str) -> dict[str, Any]:
        with self.workspace.database.session() as session:
            row = session.get(ModelCardRow, (name, version))
            if row is None:
                return {
                    "owners": [],
                    "intended_use": "",
                    "limitations": "",
                    "updated_by": None,
                    "updated_at": None,
                }
            return {
                "owners": list(row.owners),
                "intended_use": row.intended_use,
                "limitations": row.limitations,
                "updated_by": row.updated_by,
                "updated_at": row.updated_at.isoformat(),
            }

    def _params(self, run_id: str | None) -> dict[str, str]:
        if run_id is None:
            return {}
        try:
            return dict(self.workspace.mlflow.get_run(run_id).data.params)
        except Exception:
            return {}

    def _training_artifacts(self, run_id: str | None) -> dict[str, Any]:
        if run_id is None:
            return {}
        with self._lock:
            if run_id in self._artifacts:
                return self._artifacts[run_id]
        found: dict[str, Any] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for artifact in ARTIFACTS:
                try:
                    path = self.workspace.mlflow.download_artifacts(run_id, artifact, tmp)
                    found[artifact] = json.loads(Path(path).read_text())
                except Exception:
                    continue
        with self._lock:
            self._artifacts[run_id] = found
        return found

    def _cost(self, tags: dict[str, str], board: list[dict[str, Any]]) -> dict[str, Any] | None:
        """CPU cost per million predictions at Cloud Run's vCPU-second price, from timings."""
        picked = next((row for row in board if row.get("picked")), {})
        single_ms = _float(tags.get("lanza.latency_ms_per_row"))
        batch_us = picked.get("batch_us_per_row")
        if single_ms is None and batch_us is None:
            return None
        try:
            prices = PriceTable.load(self.workspace.settings.advisor.prices_path)
        except Exception:
            return None
        per_second = prices.cloud_run_vcpu_second
        return {
            # A million rows at N µs each is N CPU-seconds; one at a time, 1,000 × N ms.
            "batch_per_million": None if batch_us is None else float(batch_us) * per_second,
            "realtime_per_million": None if single_ms is None else single_ms * 1000 * per_second,
            "prices": f"Cloud Run vCPU-second in {prices.region}, prices of {prices.date}",
        }

    def _features(self, ref: str) -> list[dict[str, Any]]:
        if self.monitoring is None:
            return []
        try:
            reference = self.monitoring.monitor.references.get(ref)
        except Exception:
            return []
        if reference.frame is None:
            return []
        frame = reference.frame
        out = []
        for name in reference.features:
            series = frame[name]
            numeric = series.dtype.kind in "biuf"
            out.append(
                {
                    "name": name,
                    "kind": "number" if numeric else "category",
                    "missing": round(float(series.isna().mean()), 4),
                    "summary": (
                        f"{plain_number(series.min())} to {plain_number(series.max())}, "
                        f"median {plain_number(series.median())}"
                        if numeric
                        else f"{series.nunique()} values"
                    ),
                }
            )
        return out

    def _serving(self, ref: str) -> list[dict[str, Any]]:
        if self.serving is None:
            return []
        out = []
        for live in self.serving.manager.all():
            total = sum(v.weight for v in live.variants) or 1.0
            for variant in live.variants:
                if variant.version != ref:
                    continue
                out.append(
                    {
                        "deployment": live.spec.name,
                        "reference": variant.reference,
                        "share": round(variant.weight / total, 4),
                        "device": variant.device,
                        "status": live.status,
                        "monitoring": self._monitoring(live.spec.name),
                    }
                )
        return out

    def _monitoring(self, deployment: str) -> dict[str, Any] | None:
        if self.monitoring is None:
            return None
        report = self.monitoring.monitor.latest.get(deployment)
        if report is None:
            return None
        return {
            "requests": report["traffic"]["requests"],
            "latency": report.get("latency"),
            "drift_share": report["drift"].get("share"),
            "dataset_drift": report["drift"].get("dataset_drift"),
            "quality": report["quality"].get("metrics", {}),
            "labelled": report["quality"].get("labelled"),
        }


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
