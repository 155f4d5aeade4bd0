#!/usr/bin/env bash
# `make run`: the example backend, the host on the embedded SQLite registry,
# the examples deployed (the titles graph calls a managed, cached service);
# prints what to curl. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

backend_port="${BACKEND_PORT:-8081}"
host_port="${PORT:-8080}"
data_dir="${DATA_DIR:-.data}"
export SCRIPTHOST_URL="http://127.0.0.1:$host_port"
# A bootstrap admin token for this machine; set SCRIPTHOST_ADMIN_TOKEN to choose one.
export SCRIPTHOST_ADMIN_TOKEN="${SCRIPTHOST_ADMIN_TOKEN:-$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24))')}"
export SCRIPTHOST_TOKEN="$SCRIPTHOST_ADMIN_TOKEN"

pids=()
stop() {
  trap - INT TERM EXIT
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM EXIT

wait_for() {
  for _ in $(seq 150); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "$1 did not answer" >&2
  return 1
}

.venv/bin/python -m examples.backend --port "$backend_port" &
pids+=($!)
.venv/bin/scripthost serve --data-dir "$data_dir" --port "$host_port" \
  --backend "profile=http://127.0.0.1:$backend_port/profile" \
  --backend "recommendations=http://127.0.0.1:$backend_port/recommendations" &
pids+=($!)
wait_for "http://127.0.0.1:$backend_port/profile/users/42"
wait_for "$SCRIPTHOST_URL/healthz"

# A service managed at runtime (in the registry), with its answers cached.
.venv/bin/scripthost service catalog --url "http://127.0.0.1:$backend_port/catalog" \
  --cache-from-headers --stale-if-error 600 >/dev/null

for example in examples/home-js/home.js examples/home-py/home.py \
  examples/titles-js/titles.js examples/titles-py/titles.py; do
  name="$(basename "$(dirname "$example")")"
  .venv/bin/scripthost deploy "$example" --endpoint "examples/$name" \
    --config greeting=Hello --config max_items=2 --message "make run" --if-changed >/dev/null
done
paths='[["titles",[1,2,3],["name","rating"]],["lists","top",{"from":0,"to":2},"name"]]'

cat <<EOT

scripthost is serving on $SCRIPTHOST_URL (registry: $data_dir)
  curl '$SCRIPTHOST_URL/examples/home-js?user=42'
  curl '$SCRIPTHOST_URL/examples/home-py?user=42'
  curl -G '$SCRIPTHOST_URL/examples/titles-js' --data-urlencode 'paths=$paths'
  curl -G '$SCRIPTHOST_URL/examples/titles-py' --data-urlencode 'paths=$paths'
  curl -H 'Authorization: Bearer $SCRIPTHOST_ADMIN_TOKEN' $SCRIPTHOST_URL/admin/v1/endpoints
  Console: $SCRIPTHOST_URL/console/ (log in with the token above)
  Metrics: curl -H 'Authorization: Bearer $SCRIPTHOST_ADMIN_TOKEN' $SCRIPTHOST_URL/metrics
  Docs:    $SCRIPTHOST_URL/admin/v1/docs
  OpenAPI: $SCRIPTHOST_URL/admin/v1/openapi.json
  CLI:     SCRIPTHOST_URL=$SCRIPTHOST_URL SCRIPTHOST_TOKEN=$SCRIPTHOST_ADMIN_TOKEN .venv/bin/scripthost endpoints
Ctrl-C stops everything.
EOT
wait
