#!/usr/bin/env bash
# Rewrites imports of modules that moved between floors (see docs/architecture.md).
# Idempotent; run on a tree after merging work written against the old places.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(grep -rlE "lanza\.api import create_app|lanza\.api\.app import create_app|lanza\.api\.routers\.(deps|mlflow_face|vertex_face|v2_face|native)|lanza\.api\.grpc|lanza\.training\.serialization|lanza\.training import serialization|gateway\.limits import RateLimiter|lanza\.api\.app:create_app" src tests bench tools/*.py 2>/dev/null || true)
[ -z "$files" ] && exit 0
sed -i -E \
  -e 's/from lanza\.api(\.app)? import create_app/from lanza.server import create_app/' \
  -e 's/lanza\.api\.routers\.deps/lanza.serving.faces.deps/g' \
  -e 's/lanza\.api\.routers\.mlflow_face/lanza.serving.faces.mlflow/g' \
  -e 's/lanza\.api\.routers\.vertex_face/lanza.serving.faces.vertex/g' \
  -e 's/lanza\.api\.routers\.v2_face/lanza.serving.faces.v2/g' \
  -e 's/lanza\.api\.routers\.native/lanza.serving.faces.native/g' \
  -e 's/lanza\.api\.app:create_app/lanza.server:create_app/g' \
  -e 's/lanza\.api\.grpc/lanza.serving.faces.grpc/g' \
  -e 's/lanza\.training\.serialization/lanza.runtime.serialization/g' \
  -e 's/from lanza\.training import serialization/from lanza.runtime import serialization/' \
  -e 's/from lanza\.llm\.gateway\.limits import RateLimiter$/from lanza.security.limits import RateLimiter/' \
  -e 's/^(\s*)from lanza\.store\.tables import utcnow$/\1from lanza.clock import utcnow/' \
  $files
echo "$files"
