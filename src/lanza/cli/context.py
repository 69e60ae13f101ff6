"""Per-invocation state shared by commands: the settings and the workspace they open."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

from lanza.settings import Settings

if TYPE_CHECKING:
    from lanza.workspace import Workspace


@dataclass
class CliState:
    """Overrides from global flags, turned into a workspace on first use."""

    overrides: dict[str, object] = field(default_factory=dict)
    _workspace: Workspace | None = None

    def workspace(self) -> Workspace:
        """The workspace for this invocation."""
        from lanza.workspace import Workspace  # MLflow is heavy: load it when a command needs it

        if self._workspace is None:
            values = {k: v for k, v in self.overrides.items() if v is not None}
            self._workspace = Workspace(Settings(**values))  # type: ignore[arg-type]
        return self._workspace


def state(ctx: typer.Context) -> CliState:
    """The state the root callback put on the context."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj
