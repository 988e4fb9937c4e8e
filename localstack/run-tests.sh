#!/usr/bin/env bash
# make test-localstack: LocalStack in host mode (no Docker), bound to loopback, in its own virtual
# environment; create the bucket and secret as the ready-hook does; run the AWS integration tier against
# it; stop it whatever happens, within a bound (SIGTERM to its process group, SIGKILL after 20 s: a CI run once
# hung for an hour after the tests had passed, waiting on LocalStack's shutdown).
set -euo pipefail
cd "$(dirname "$0")/.."
LS_PYTHON=${LS_PYTHON:-.venv/localstack/bin/python}
# A free loopback port unless one is given: never collide with a LocalStack the developer already runs.
PORT=${LOCALSTACK_PORT:-$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
ROOT_DIR=$(mktemp -d -t dummi-localstack-XXXX)
LOG="$ROOT_DIR/localstack.log"

# setsid: LocalStack and whatever it starts form one process group, stopped together.
# SFN_MOCK_CONFIG: the training state machine's tasks answer as that file says (tests/aws drive its paths).
OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$ROOT_DIR" GATEWAY_SERVER=hypercorn GATEWAY_LISTEN="127.0.0.1:$PORT" \
  SFN_MOCK_CONFIG="$PWD/tests/aws/sfn_mock_config.json" SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1 setsid "$LS_PYTHON" -m localstack.runtime.main >"$LOG" 2>&1 &
PID=$!

stop_localstack() {
  kill -TERM -- "-$PID" 2>/dev/null || true
  for _ in $(seq 1 40); do
    kill -0 -- "-$PID" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 -- "-$PID" 2>/dev/null; then
    echo "LocalStack did not stop within 20 s of SIGTERM; killing it. Its log ends:"
    tail -20 "$LOG"
    kill -KILL -- "-$PID" 2>/dev/null || true
  fi
  rm -rf "$ROOT_DIR"
}
trap stop_localstack EXIT

for _ in $(seq 1 120); do
  if curl -sf "http://127.0.0.1:$PORT/_localstack/health" >/dev/null; then break; fi
  if ! kill -0 "$PID" 2>/dev/null; then echo "LocalStack exited:"; tail -20 "$LOG"; exit 1; fi
  sleep 0.5
done
curl -sf "http://127.0.0.1:$PORT/_localstack/health" >/dev/null || { echo "LocalStack not ready in 60 s"; tail -20 "$LOG"; exit 1; }
echo "LocalStack (host mode, pid $PID) answering on 127.0.0.1:$PORT"

# Bounded as a whole too (the tier takes ~20 s): a process that will not exit fails the run in minutes.
DUMMI_TEST_AWS_ENDPOINT="http://127.0.0.1:$PORT" timeout --kill-after=10 600 .venv/bin/python -m pytest tests/aws -q "$@"
