#!/usr/bin/env bash
# Engine benchmarks: in-process invocations, Kafka in/out against a plain echo, and recovery,
# each printed next to its baseline. Uses a broker of its own (a fresh one per Kafka run,
# since the in-memory broker slows down as it fills).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/bootstrap.sh
swift build -c release --product InvocationThroughput --product WorkerThroughput
echo "== invocations in process"
.build/release/InvocationThroughput --rounds 9
PORT=${BENCH_BROKER_PORT:-39092}
for run in pipeline recovery; do
    echo "== $run"
    ./scripts/broker.sh start --port "$PORT"
    .build/release/WorkerThroughput "$run" --bootstrap "127.0.0.1:$PORT" || status=$?
    ./scripts/broker.sh stop --port "$PORT"
    [ "${status:-0}" -eq 0 ] || exit "$status"
done
