#!/usr/bin/env bash
# Runs every test: checks that no development history crept into the product, installs what is
# missing (the StateFun Python SDK too), starts a private broker, validates docker-compose.yml,
# runs `swift test`, stops the broker. Extra arguments go to `swift test` (e.g. --filter RoundTrip).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/check-history.sh
source scripts/private-broker.sh
PORT=${TEST_BROKER_PORT:-19092}
start_private_broker "$PORT"
./scripts/check-compose.sh
./scripts/python-sdk.sh >/dev/null
export KAFKA_BOOTSTRAP=127.0.0.1:$PORT
swift build --build-tests
# Line-buffered, so that a log cut short still shows the test that was running; bounded, so that
# a hang fails the run with a message instead of running into CI's own limit.
timeout --kill-after=30s "${TEST_TIME_LIMIT:-45m}" stdbuf -oL -eL swift test --skip-build "$@" || {
    status=$?
    [ "$status" -eq 124 ] && echo "swift test did not finish within ${TEST_TIME_LIMIT:-45m}" >&2
    exit "$status"
}
