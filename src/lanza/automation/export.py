"""``lanza export``: the running state written as a ``lanza.yaml``.

Values equal to their defaults are left out, so the file reads like one a person
wrote; loading it back and planning against the same state shows no change.
"""

from __future__ import annotations

from typing import Any

import yaml

from lanza.automation.plan import SECTIONS, running_state
from lanza.automation.spec import LanzaFile
from lanza.workspace import Workspace


def export_state(workspace: Workspace) -> LanzaFile:
    """The running state as a validated ``LanzaFile``."""
    sections: dict[str, list[dict[str, Any]]] = {s: [] for s in SECTIONS.values()}
    for (kind, _name), spec in sorted(running_state(workspace).items()):
        sections[SECTIONS[kind]].append(spec)
    return LanzaFile.model_validate(sections)


def to_yaml(spec: LanzaFile) -> str:
    """YAML text of a file, with defaults and empty sections left out."""
    data = spec.model_dump(mode="json", exclude_defaults=True)
    body: dict[str, Any] = {"version": 1}
    body.update({k: v for k, v in data.items() if v and k != "version"})
    header = "# lanza.yaml: written by `lanza export`; check with `lanza plan`.\n"
    return header + yaml.safe_dump(body, sort_keys=False, default_flow_style=False)
