"""The one web shell every page of lanza is drawn in: layout, navigation, assets.

The dashboard, the LLM pages, the automation page and the pages for people who do not
code all answer ``page(...)``: the same head, header and navigation, the base stylesheet
(``/static/lanza/base.css``) and the shared helpers (``/static/lanza/common.js``) before
the page's own script. Static files are served by one mount at ``/static``, in which each
feature registers its folder under its own name (``/static/monitoring/...``). Plain HTML,
CSS and JavaScript, no CDN and no build step, so every page renders without internet.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

STATIC = Path(__file__).parent / "static"

# The site's sections, in the header of every page that shows the navigation.
NAV: tuple[tuple[str, str, str], ...] = (
    ("deployments", "/", "Deployments"),
    ("traces", "/traces", "Traces"),
    ("evaluations", "/evaluations", "Evaluations"),
    ("evaluators", "/evaluators", "Evaluators"),
    ("spend", "/spend", "Spend"),
    ("automation", "/automation", "Automation"),
)

HERE = ' class="here"'


def page(
    title: str,
    *,
    script: str,
    styles: tuple[str, ...] = (),
    main: str = '<p class="muted">Loading…</p>',
    here: str | None = None,
    nav: bool = True,
    crumb: str = "",
) -> str:
    """A whole HTML page in the shell: ``script`` and ``styles`` are URLs under /static.

    ``here`` marks the current section in the navigation; ``nav=False`` leaves the site's
    navigation out (the pages for people who do not code show their own tabs instead).
    ``crumb`` is the page's place until its script writes its own. ``main`` is trusted
    markup from lanza's own code, never from a request.
    """
    links = "".join(
        f'<a href="{href}" id="nav-{key}"{HERE if key == here else ""}>{label}</a>'
        for key, href, label in NAV
    )
    header = f"<nav>{links}</nav>" if nav else '<nav id="tabs"></nav>'
    sheets = "".join(f'\n  <link rel="stylesheet" href="{escape(s)}">' for s in styles)
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>lanza · {escape(title)}</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/static/lanza/base.css">{sheets}
</head>
<body>
  <header>
    <a href="/" class="brand">lanza</a>
    {header}
    <span id="crumb">{escape(crumb)}</span>
    <span id="updated" class="muted"></span>
  </header>
  <main id="main">{main}</main>
  <script src="/static/lanza/common.js"></script>
  <script src="{escape(script)}"></script>
</body>
</html>
"""


class Assets:
    """One ASGI app at ``/static`` serving each registered folder under its name."""

    def __init__(self) -> None:
        self.folders: dict[str, StaticFiles] = {"lanza": StaticFiles(directory=STATIC)}

    def add(self, name: str, directory: Path) -> None:
        """Serve ``directory`` at ``/static/{name}/``."""
        self.folders[name] = StaticFiles(directory=directory)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):  # Starlette keeps the mount's prefix in the path
            path = path[len(root) :]
        name, _, rest = path.lstrip("/").partition("/")
        folder = self.folders.get(name)
        if folder is None or not rest:
            await Response("Not Found", status_code=404)(scope, receive, send)
            return
        try:
            await folder({**scope, "path": "/" + rest, "root_path": ""}, receive, send)
        except HTTPException as exc:
            await Response(exc.detail, status_code=exc.status_code)(scope, receive, send)


def assets(app: FastAPI) -> Assets:
    """The app's one static mount, made on first use."""
    found: Assets | None = getattr(app.state, "assets", None)
    if found is None:
        found = app.state.assets = Assets()
        app.mount("/static", found, name="static")
    return found
