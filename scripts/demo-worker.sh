# Sourced by the demos: a broker of their own and one release worker, both stopped (the
# worker with SIGTERM) when the demo exits.
# shellcheck shell=bash
source scripts/private-broker.sh

# start_demo_worker PORT WORKER-ARGS...: sets DEMO_BROKER, DEMO_LOG and DEMO_WORKER_PID.
start_demo_worker() {
    start_private_broker "$1"
    shift
    DEMO_BROKER=127.0.0.1:$PRIVATE_BROKER_PORT
    DEMO_LOG=$(mktemp -t statefun-demo-XXXX.log)
    swift build -c release --product statefun-worker
    echo "== starting a worker: $* (log: $DEMO_LOG)"
    .build/release/statefun-worker --bootstrap "$DEMO_BROKER" --partitions 4 "$@" >"$DEMO_LOG" 2>&1 &
    DEMO_WORKER_PID=$!
    trap 'stop_demo_worker; ./scripts/broker.sh stop --port "$PRIVATE_BROKER_PORT"' EXIT
    for _ in $(seq 1 600); do grep -q "partition recovered" "$DEMO_LOG" && break; sleep 0.1; done
    kill -0 "$DEMO_WORKER_PID" 2>/dev/null || { DEMO_WORKER_PID=; cat "$DEMO_LOG"; echo "the worker did not start"; exit 1; }
}

# Stops the worker with SIGTERM (it checkpoints its partitions first) and checks it stopped cleanly.
stop_demo_worker() {
    [ -n "${DEMO_WORKER_PID:-}" ] || return 0
    echo "== stopping the worker with SIGTERM (it checkpoints its partitions first)"
    kill -TERM "$DEMO_WORKER_PID" 2>/dev/null || true
    wait "$DEMO_WORKER_PID" || true
    DEMO_WORKER_PID=
    grep -E "worker stopped" "$DEMO_LOG" || { echo "the worker did not stop cleanly; see $DEMO_LOG"; return 1; }
}
