#!/usr/bin/env bash
# Start the example backend, run one device request through each example
# component with `scripthost invoke`, print the results, stop the backend.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${BACKEND_PORT:-8081}"
.venv/bin/python -m examples.backend --port "$port" &
backend=$!
trap 'kill $backend 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$port/profile/users/42" >/dev/null 2>&1 && break
  sleep 0.2
done
for component in $(.venv/bin/python -c "from pathlib import Path; from host.build import build_all_cached; print(*build_all_cached([Path('examples/home-js/home.js'), Path('examples/home-py/home.py')]))"); do
  echo "== $component"
  .venv/bin/scripthost invoke "$component" --request examples/request.json \
    --backend "profile=http://127.0.0.1:$port/profile" \
    --backend "recommendations=http://127.0.0.1:$port/recommendations" \
    --config greeting=Hello --config max_items=2
done
