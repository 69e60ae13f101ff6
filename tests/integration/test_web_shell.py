"""Every page is drawn in the one web shell, and ``/static`` is one mount for all assets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lanza.server import create_app
from lanza.settings import Settings
from lanza.workspace import Workspace
from tests.servers import running

PAGES = {
    "/": "/static/monitoring/dashboard.js",
    "/dashboard/churn": "/static/monitoring/dashboard.js",
    "/automation": "/static/automation/automation.js",
    "/traces": "/static/llm/traces.js",
    "/evaluations": "/static/llm/evaluations.js",
    "/evaluators": "/static/llm/evaluators.js",
    "/spend": "/static/llm/spend.js",
    "/annotate/triage": "/static/llm/annotate.js",
    "/deployments/churn": "/static/pages/pages.js",
    "/deployments/churn/upload": "/static/pages/pages.js",
    "/models/churn/versions/1/card": "/static/pages/pages.js",
}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home: Path = tmp_path_factory.mktemp("web")
    workspace = Workspace(Settings(home=home, database_url=f"sqlite:///{home}/lanza.db"))
    with running(create_app(workspace=workspace)) as address:
        yield address


@pytest.mark.parametrize(("path", "script"), PAGES.items())
def test_every_page_is_the_shell_with_its_own_script(url: str, path: str, script: str) -> None:
    page = httpx.get(url + path)
    assert page.status_code == 200
    html = page.text
    assert html.count('href="/static/lanza/base.css"') == 1
    # The shared helpers load before the page's own script, which needs them.
    assert html.index('src="/static/lanza/common.js"') < html.index(f'src="{script}"')
    for element in ('id="crumb"', 'id="updated"', 'id="main"'):
        assert element in html
    # Every stylesheet and script the page names is served.
    for asset in ["/static/lanza/base.css", "/static/lanza/common.js", script]:
        assert httpx.get(url + asset).status_code == 200, asset


def test_the_current_section_is_marked_and_pages_for_people_have_their_own_tabs(
    url: str,
) -> None:
    traces = httpx.get(url + "/traces").text
    assert '<a href="/traces" id="nav-traces" class="here">' in traces
    assert 'class="here"' not in traces.replace('id="nav-traces" class="here"', "")
    form = httpx.get(url + "/deployments/churn").text
    assert '<nav id="tabs"></nav>' in form
    assert 'id="nav-traces"' not in form


@pytest.mark.parametrize(
    "path", ["/static/nope/x.js", "/static/lanza/nope.js", "/static/lanza/../settings.py"]
)
def test_unknown_or_escaping_asset_paths_are_404(url: str, path: str) -> None:
    assert httpx.get(url + path).status_code == 404
