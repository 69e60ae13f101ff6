"""A component: a subsystem that adds routes to the app and runs for its lifetime.

Serving, batch jobs, monitoring and the LLM gateway are components. ``create_app``
lists them; each installs its own routers and starts and stops its own background work.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from fastapi import FastAPI


class Component(ABC):
    """Routes plus background work, started and stopped with the app."""

    name: str = "component"

    @abstractmethod
    def install(self, app: FastAPI) -> None:
        """Add routers (and ``app.state`` entries) to the app."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Start background work; called once when the server starts."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Finish background work; called once when the server stops."""

    def readiness(self) -> tuple[bool, str]:
        """Whether this component is ready, and why not."""
        return True, "ready"
