"""The text of a build context: Dockerfile, ``.dockerignore`` and a README.

The entry command is ``lanza container-start``: it reads ``lanza-deployment.json`` in
the working directory, registers bundled models into the container's own stores (or
pulls them from the shared registry), creates the deployment and serves it on
``$AIP_HTTP_PORT`` or ``$PORT`` (8080).
"""

from __future__ import annotations

from lanza.cloud.bundle import Source

PORT = 8080
ENTRYPOINT = ["lanza", "container-start", "--host", "0.0.0.0", "--insecure"]
HEALTHCHECK = (
    'python -c "import os, urllib.request; '
    "port = os.environ.get('AIP_HTTP_PORT') or os.environ.get('PORT', '8080'); "
    "urllib.request.urlopen(f'http://127.0.0.1:{port}/readyz', timeout=4)\""
)


def environment(deployment: str) -> dict[str, str]:
    """The container's environment (one ``ENV`` line each)."""
    return {
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "PIP_NO_CACHE_DIR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "LANZA_HOME": "/app/state",
        "LANZA_SERVE_DEPLOYMENT": deployment,
        "PORT": str(PORT),
    }


def dockerfile(base: str, deployment: str, source: Source, wheel: bool = False) -> str:
    """A Dockerfile for one deployment (``wheel``: lanza comes from ``wheels/``)."""
    env = "\n".join(f"ENV {key}={value}" for key, value in environment(deployment).items())
    models = "COPY --chown=lanza:lanza bundle/ bundle/\n" if source == "bundle" else ""
    wheels = "COPY wheels/ wheels/\n" if wheel else ""
    cmd = ", ".join(f'"{word}"' for word in ENTRYPOINT)
    return f"""\
# syntax=docker/dockerfile:1
FROM {base}

{env}

RUN groupadd --system --gid 10001 lanza \\
 && useradd --system --uid 10001 --gid lanza --home-dir /app --shell /usr/sbin/nologin lanza
WORKDIR /app

# Pinned: lanza, then the model's own MLflow environment (requirements.txt).
COPY requirements.txt ./
{wheels}RUN pip install --no-cache-dir -r requirements.txt

COPY --chown=lanza:lanza lanza-deployment.json ./
{models}RUN mkdir -p /app/state && chown lanza:lanza /app/state
USER 10001:10001

EXPOSE {PORT}
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \\
  CMD {HEALTHCHECK}
# Cloud Run, Vertex AI and GKE authenticate callers in front of the container (IAM,
# internal Services); for keys inside it, point LANZA_DATABASE_URL at a database
# that holds them and drop --insecure.
CMD [{cmd}]
"""


def dockerignore() -> str:
    """Keep the build context to what the image needs."""
    return "\n".join(["**/__pycache__", "**/*.pyc", "**/.DS_Store", "README.md", "deploy/", ""])


def readme(deployment: str, source: Source) -> str:
    """Build and run commands for this context."""
    pull = (
        "The model artifacts are in `bundle/`; the container registers them into its own "
        "local stores when it starts."
        if source == "bundle"
        else "The container pulls the model from the shared registry when it starts: set "
        "`LANZA_TRACKING_URI` and `LANZA_DATABASE_URL` (and `GOOGLE_APPLICATION_CREDENTIALS` "
        "outside Google Cloud)."
    )
    return f"""\
# {deployment}: container build context

Written by `lanza package {deployment}`. {pull}

```bash
docker build -t lanza-{deployment} .
docker run --rm -p {PORT}:{PORT} lanza-{deployment}
curl -s http://127.0.0.1:{PORT}/readyz
curl -s http://127.0.0.1:{PORT}/api/v1/deployments/{deployment}/predict \\
  -H 'Content-Type: application/json' -d '{{"instances": [...]}}'
```

- The server listens on `$AIP_HTTP_PORT` (Vertex AI) or `$PORT` (Cloud Run, default {PORT})
  and answers `AIP_HEALTH_ROUTE` / `AIP_PREDICT_ROUTE` (defaults `/vertex/health`,
  `/vertex/predict`).
- Health: `/healthz` (live), `/readyz` (model loaded); the image's `HEALTHCHECK` probes `/readyz`.
- The entry command, runnable outside a container from this folder:
  `{" ".join(ENTRYPOINT)}`.
- Build in Google Cloud instead: `gcloud builds submit --tag IMAGE .`
"""
