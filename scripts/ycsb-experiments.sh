#!/usr/bin/env bash
# The seed's YCSB-T experiments with the driver's step-up search, each configuration on a
# fresh broker with fresh workers. Prints a markdown table row per configuration and keeps
# each run's results under Benchmarks/results/ycsb/.
#
#   ./scripts/ycsb-experiments.sh overhead     # read/update throughput with and without transaction support
#   ./scripts/ycsb-experiments.sh cost         # the worker's CPU per read/update at a fixed rate, with and without
#   ./scripts/ycsb-experiments.sh throughput   # max throughput by transfer share, protocol and key count
#   ./scripts/ycsb-experiments.sh deadlocks    # deadlocks per 1,000 transfers at 100 and 5,000 keys
#   ./scripts/ycsb-experiments.sh workers      # one, two and three workers
#   ./scripts/ycsb-experiments.sh rollbacks    # sagas with 0-100% of transfers rolled back
#   ./scripts/ycsb-experiments.sh ladder       # latency at fixed rates, 100% transfers, a fresh broker per rate
#
# Narrow a grid with SHARES, PROTOCOLS, KEYS, WORKERS, REFUSED and RATES (space-separated lists),
# e.g. SHARES="0 50 100" KEYS=5000 ./scripts/ycsb-experiments.sh throughput
# `cost` takes RATE (default 1000 req/s), RUN_SECONDS (30) and ROUNDS (3); `ladder` takes
# RUN_SECONDS (30), ROUNDS (1) and DRIVER_ARGS (more driver options, e.g. "--tick 1 --linger 10"), and
# before each rate's runs measures the broker path alone against ycsb-echo (ECHO=0 skips it).
# PARTITIONS sets the key partitions of every run (default 8; 1 for `ladder`, one worker's
# best: no epoch depends on another partition, and the local broker holds fewer batches);
# WORKER_ARGS adds worker options.
set -euo pipefail
cd "$(dirname "$0")/.."

experiment=${1:?usage: ycsb-experiments.sh overhead|cost|throughput|deadlocks|workers|rollbacks|ladder}
PORT=${EXPERIMENT_BROKER_PORT:-39092}
BROKER=127.0.0.1:$PORT
RESULTS=Benchmarks/results/ycsb
mkdir -p "$RESULTS"
./scripts/bootstrap.sh
for product in statefun-worker ycsb-driver; do swift build -c release --product "$product"; done

# start NAME WORKERS: a fresh broker and WORKERS workers (their pids in WORKER_PIDS).
start() {
    local name=$1 count=$2
    ./scripts/broker.sh start --port "$PORT" >/dev/null
    WORKER_PIDS=()
    for index in $(seq 1 "$count"); do
        # shellcheck disable=SC2086 # WORKER_ARGS holds several arguments
        .build/release/statefun-worker --app ycsb --bootstrap "$BROKER" --partitions "${PARTITIONS:-8}" ${WORKER_ARGS:-} >"$RESULTS/$name-worker$index.log" 2>&1 &
        WORKER_PIDS+=($!)
    done
    for _ in $(seq 1 600); do grep -q "partition recovered" "$RESULTS/$name-worker1.log" && break; sleep 0.1; done
}

# stop NAME: stops the workers (SIGTERM) and the broker; sets LAST_DEADLOCKS and LAST_TRANSFERS.
stop() {
    kill -TERM "${WORKER_PIDS[@]}" 2>/dev/null || true
    wait "${WORKER_PIDS[@]}" 2>/dev/null || true
    ./scripts/broker.sh stop --port "$PORT" >/dev/null
    # Each worker logs its transaction counts when it stops.
    LAST_DEADLOCKS=$(cat "$RESULTS/$1"-worker*.log | grep -o 'statefun.transactions.deadlocks=[0-9]*' | awk -F= '{ s += $2 } END { print s + 0 }')
    LAST_TRANSFERS=$(cat "$RESULTS/$1"-worker*.log | grep -o 'statefun.transactions.\(committed\|failed\|retryable\)=[0-9]*' |
        awk -F= '{ s += $2 } END { print s + 0 }')
}

# driver NAME DRIVER-ARGS...: one driver run, results under $RESULTS/NAME.
driver() {
    local name=$1
    shift
    .build/release/ycsb-driver --bootstrap "$BROKER" --output "$RESULTS/$name" "$@" >"$RESULTS/$name-driver.log" 2>&1 || true
}

# run NAME WORKERS DRIVER-ARGS...: one configuration on a fresh broker; sets what `stop` sets.
run() {
    local name=$1 count=$2
    shift 2
    start "$name" "$count"
    driver "$name" "$@"
    stop "$name"
}

# echo_run NAME DRIVER-ARGS...: the driver against ycsb-echo (every request answered at once,
# through the broker with the worker's Kafka settings) on a fresh broker: the broker path alone.
echo_run() {
    local name=$1
    shift
    ./scripts/broker.sh start --port "$PORT" >/dev/null
    .build/release/YCSBEcho --bootstrap "$BROKER" --partitions "${PARTITIONS:-8}" >"$RESULTS/$name-echo.log" 2>&1 &
    local echo_pid=$!
    for _ in $(seq 1 600); do grep -q "echo ready" "$RESULTS/$name-echo.log" && break; sleep 0.1; done
    driver "$name" "$@"
    kill -TERM "$echo_pid" 2>/dev/null || true
    wait "$echo_pid" 2>/dev/null || true
    ./scripts/broker.sh stop --port "$PORT" >/dev/null
}

# ladder_row RESULTS-JSON PROTOCOL RATE ROUND: one row of the ladder's table.
ladder_row() {
    python3 - "$@" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))
checks, client, server = results["checks"], results["latencyMilliseconds"], results["serverLatencyMilliseconds"]
# The echo keeps no balances: every read answers the starting balance.
conserved = "n/a" if sys.argv[2] == "echo" else checks.get("balanceTotal") == checks["expectedBalanceTotal"]
print("| %s | %s | %s | %.0f | %.1f / %.1f | %.1f / %.1f | %d | %d | %d | %s |" % (
    sys.argv[2], sys.argv[3], sys.argv[4], results["answeredRate"], client["p50"], client["p99"], server["p50"], server["p99"],
    results["statuses"].get("409", 0), checks["unanswered"], checks["conflictingOutcomes"], conserved))
PY
}

# CPU seconds process PID has used so far.
cpu_seconds() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"
}

# The highest sustained rate, its p99 and the checks, from a search's results.json.
sustained() {
    python3 - "$1" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))
sustained = [step for step in results.get("steps", []) if step["sustained"]]
best = sustained[-1] if sustained else {"offered": 0, "p99Milliseconds": 0}
checks = results["checks"]
print("%d | %.0f | %d | %d | %s" % (best["offered"], best["p99Milliseconds"], checks["unanswered"], checks["conflictingOutcomes"],
                                    checks.get("balanceTotal") == checks["expectedBalanceTotal"]))
PY
}

# A deadlocks row: keys, share, requests, transfers decided (the workers' count), deadlocks, per 1,000, 409s.
deadlock_row() {
    python3 - "$@" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))
share, deadlocks, keys, transfers = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
requests = results["checks"]["requests"]
print("| %s | %d%% | %d | %d | %d | %.1f | %d |" % (keys, share, requests, transfers, deadlocks, 1000 * deadlocks / max(1, transfers),
                                                 results["statuses"].get("409", 0)))
PY
}

search=(--search --rate 250 --search-step 250 --step-seconds 8 --max-p99 1000)
case "$experiment" in
overhead)
    echo "| keys | transaction support | max sustained (req/s) | p99 there (ms) | unanswered | two outcomes | sum conserved |"
    echo "|---|---|---|---|---|---|---|"
    for keys in ${KEYS:-100 5000}; do
        for support in on off; do
            name="overhead-$keys-$support"
            WORKER_ARGS=$([ "$support" = off ] && echo --ycsb-no-transactions || true) \
                run "$name" 1 --records "$keys" --transfer 0 --read 50 --update 50 "${search[@]}"
            echo "| $keys | $support | $(sustained "$RESULTS/$name/results.json") |"
        done
    done
    ;;
cost)
    echo "| keys | transaction support | round | worker CPU per 1,000 requests (ms) | p50 (ms) | p99 (ms) | unanswered | two outcomes |"
    echo "|---|---|---|---|---|---|---|---|"
    for keys in ${KEYS:-100 5000}; do
        for round in $(seq 1 "${ROUNDS:-3}"); do
            for support in on off; do
                name="cost-$keys-$support-$round"
                WORKER_ARGS=$([ "$support" = off ] && echo --ycsb-no-transactions || true) start "$name" 1
                mix=(--records "$keys" --transfer 0 --read 50 --update 50)
                # Load (and one second of requests) first, so that only the measured run is counted.
                driver "$name-load" "${mix[@]}" --rate 100 --seconds 1
                before=$(cpu_seconds "${WORKER_PIDS[0]}")
                driver "$name" "${mix[@]}" --skip-load --rate "${RATE:-1000}" --seconds "${RUN_SECONDS:-30}"
                after=$(cpu_seconds "${WORKER_PIDS[0]}")
                stop "$name"
                python3 - "$RESULTS/$name/results.json" "$before" "$after" "$keys" "$support" "$round" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))
cpu = float(sys.argv[3]) - float(sys.argv[2])
checks, latency = results["checks"], results["latencyMilliseconds"]
print("| %s | %s | %s | %.0f | %.1f | %.1f | %d | %d |" % (sys.argv[4], sys.argv[5], sys.argv[6], 1e6 * cpu / max(1, checks["requests"]),
                                                      latency["p50"], latency["p99"], checks["unanswered"], checks["conflictingOutcomes"]))
PY
            done
        done
    done
    ;;
throughput)
    echo "| keys | transfers | protocol | max sustained (req/s) | p99 there (ms) | unanswered | two outcomes | sum conserved |"
    echo "|---|---|---|---|---|---|---|---|"
    for keys in ${KEYS:-100 2000 5000}; do
        for share in ${SHARES:-0 5 10 25 50 75 100}; do
            for protocol in ${PROTOCOLS:-2pc saga}; do
                rest=$(( (100 - share) / 2 ))
                name="throughput-$keys-$share-$protocol"
                run "$name" 1 --records "$keys" --transfer "$share" --read "$rest" --update $(( 100 - share - rest )) \
                    --protocol "$protocol" "${search[@]}"
                echo "| $keys | $share% | $protocol | $(sustained "$RESULTS/$name/results.json") |"
            done
        done
    done
    ;;
deadlocks)
    echo "| keys | transfers | requests | transfers decided | deadlocks | per 1,000 transfers | 409 |"
    echo "|---|---|---|---|---|---|---|"
    for keys in ${KEYS:-100 5000}; do
        for share in ${SHARES:-25 50 75}; do
            rest=$(( (100 - share) / 2 ))
            name="deadlocks-$keys-$share"
            run "$name" 1 --records "$keys" --transfer "$share" --read "$rest" --update $(( 100 - share - rest )) --rate 400 --seconds 30
            deadlock_row "$RESULTS/$name/results.json" "$share" "${LAST_DEADLOCKS:-0}" "$keys" "${LAST_TRANSFERS:-0}"
        done
    done
    ;;
workers)
    echo "| workers | max sustained (req/s) | p99 there (ms) | unanswered | two outcomes | sum conserved |"
    echo "|---|---|---|---|---|---|"
    for count in ${WORKERS:-1 2 3}; do
        name="workers-$count"
        run "$name" "$count" --records 5000 --transfer 50 --read 25 --update 25 --protocol 2pc "${search[@]}"
        echo "| $count | $(sustained "$RESULTS/$name/results.json") |"
    done
    ;;
rollbacks)
    echo "| sagas rolled back | max sustained (req/s) | p99 there (ms) | unanswered | two outcomes | sum conserved |"
    echo "|---|---|---|---|---|---|"
    for refused in ${REFUSED:-0 25 50 75 100}; do
        name="rollbacks-$refused"
        run "$name" 1 --records 5000 --transfer 100 --read 0 --update 0 --protocol saga --refused "$refused" "${search[@]}"
        echo "| $refused% | $(sustained "$RESULTS/$name/results.json") |"
    done
    ;;
ladder)
    PARTITIONS=${PARTITIONS:-1}
    [ "${ECHO:-1}" = 0 ] || swift build -c release --product YCSBEcho
    echo "| protocol | offered (req/s) | round | answered (req/s) | client p50 / p99 (ms) | server p50 / p99 (ms) | 409 | unanswered | two outcomes | sum conserved |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for rate in ${RATES:-1000 2000 4000 8000 10000 12000}; do
        for round in $(seq 1 "${ROUNDS:-1}"); do
            # shellcheck disable=SC2086 # DRIVER_ARGS holds several arguments
            transfers=(--records "${KEYS:-10000}" --transfer 100 --read 0 --update 0 --rate "$rate" --seconds "${RUN_SECONDS:-30}" ${DRIVER_ARGS:-})
            if [ "${ECHO:-1}" != 0 ]; then
                name="ladder-echo-$rate-$round"
                echo_run "$name" "${transfers[@]}"
                ladder_row "$RESULTS/$name/results.json" echo "$rate" "$round"
            fi
            for protocol in ${PROTOCOLS:-2pc saga}; do
                name="ladder-$protocol-$rate-$round"
                run "$name" 1 --protocol "$protocol" "${transfers[@]}"
                ladder_row "$RESULTS/$name/results.json" "$protocol" "$rate" "$round"
            done
        done
    done
    ;;
*)
    echo "unknown experiment $experiment" >&2
    exit 2
    ;;
esac
