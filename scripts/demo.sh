#!/usr/bin/env bash
# The main job: installs what is missing, starts a local broker, runs the demo, stops the broker.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/bootstrap.sh
PORT=${DEMO_BROKER_PORT:-29092}
./scripts/broker.sh start --port "$PORT"
trap './scripts/broker.sh stop --port "$PORT"' EXIT
swift build -c release --product kafka-roundtrip
.build/release/kafka-roundtrip --bootstrap "127.0.0.1:$PORT" "$@"
