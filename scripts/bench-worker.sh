#!/usr/bin/env bash
# Engine benchmarks, each printed next to its baseline: in-process invocations, Kafka in/out
# against a plain echo, the same with metrics on against off, recovery, a remote Python
# function against the same function in Swift, and deadlock detection under hot-key 2PC
# transfers. Uses a broker of its own (a fresh one per Kafka run, since the in-memory broker
# slows down as it fills).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/bootstrap.sh
./scripts/python-sdk.sh >/dev/null
for product in InvocationThroughput WorkerThroughput HotAccounts; do swift build -c release --product "$product"; done
echo "== invocations in process"
.build/release/InvocationThroughput --rounds 9
PORT=${BENCH_BROKER_PORT:-39092}
for run in pipeline metrics recovery remote hot-accounts; do
    echo "== $run"
    ./scripts/broker.sh start --port "$PORT"
    if [ "$run" = hot-accounts ]; then
        .build/release/HotAccounts --bootstrap "127.0.0.1:$PORT" || status=$?
    else
        .build/release/WorkerThroughput "$run" --bootstrap "127.0.0.1:$PORT" || status=$?
    fi
    ./scripts/broker.sh stop --port "$PORT"
    [ "${status:-0}" -eq 0 ] || exit "$status"
done
