#!/usr/bin/env bash
# The main job: the seed's greeter end to end. Installs what is missing, starts a local broker
# and a worker, sends greeting requests to Kafka, prints the greetings that come back (each
# name counted exactly once per request), then stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/bootstrap.sh
PORT=${DEMO_BROKER_PORT:-29092}
BROKER=127.0.0.1:$PORT
LOG=$(mktemp -t statefun-demo-XXXX.log)
./scripts/broker.sh start --port "$PORT"
worker_pid=
cleanup() {
    [ -n "$worker_pid" ] && kill -TERM "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null || true
    ./scripts/broker.sh stop --port "$PORT"
}
trap cleanup EXIT

swift build -c release --product statefun-worker
echo "== starting a greeter worker (log: $LOG)"
.build/release/statefun-worker --app greeter --bootstrap "$BROKER" --partitions 4 >"$LOG" 2>&1 &
worker_pid=$!
for _ in $(seq 1 600); do grep -q "partition recovered" "$LOG" && break; sleep 0.1; done

names=(alice bob alice carol alice bob dave alice)
echo "== sending ${#names[@]} requests to topic greeter-requests (key = name, value = JSON)"
for name in "${names[@]}"; do
    printf '%s|{"name":"%s"}\n' "$name" "$name"
done | kcat -P -b "$BROKER" -t greeter-requests -K '|' -X partitioner=murmur2_random

echo "== greetings read back from topic greetings"
timeout 60 kcat -C -b "$BROKER" -t greetings -o beginning -c "${#names[@]}" -f '%k: %s   [%h]\n'

echo "== stopping the worker with SIGTERM (it checkpoints its partitions first)"
kill -TERM "$worker_pid"
wait "$worker_pid" || true
worker_pid=
grep -E "worker stopped" "$LOG" || { echo "the worker did not stop cleanly; see $LOG"; exit 1; }
