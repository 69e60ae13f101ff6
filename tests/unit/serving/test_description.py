"""The one readiness rule and the server's readiness line, from live deployment states."""

from __future__ import annotations

import pytest

from lanza.errors import UnavailableError
from lanza.serving.description import LOADABLE, readiness, server_readiness
from lanza.serving.live import LiveDeployment, Status
from lanza.serving.spec import DeploymentSpec


def _live(name: str, status: Status, on_demand: bool = False) -> LiveDeployment:
    residency = "on_demand" if on_demand else "always"
    spec = DeploymentSpec(name=name, model="m/1", residency=residency)
    error = "no such model" if status == "failed" else None
    return LiveDeployment(spec, 1, status, error)


@pytest.mark.parametrize(
    ("status", "on_demand", "ready"),
    [
        ("ready", False, True),
        ("loading", False, False),
        ("failed", False, False),
        ("ready", True, True),
        ("unloaded", True, True),  # its first request loads it
        ("loading", True, True),  # requests wait for the load under way
        ("failed", True, False),
    ],
)
def test_the_readiness_rule(status: Status, on_demand: bool, ready: bool) -> None:
    live = _live("d", status, on_demand)
    answer = readiness(live)
    assert answer.ready is ready
    assert (live.unavailable is None) is ready
    assert answer.resident is (status == "ready")
    if ready:
        answer.check()
    else:
        with pytest.raises(UnavailableError, match="Deployment 'd'") as raised:
            answer.check()
        assert raised.value.message == answer.reason


def test_the_server_is_ready_when_every_deployment_answers() -> None:
    models = [readiness(_live("a", "ready")), readiness(_live("b", "unloaded", True))]
    ready = server_readiness(models)
    assert (ready.ready, ready.detail) == (True, "1 deployments loaded, 1 loadable on demand")
    assert models[1].note == LOADABLE
    waiting = server_readiness([*models, readiness(_live("c", "loading"))])
    assert (waiting.ready, waiting.detail) == (False, "c: loading")
