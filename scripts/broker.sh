#!/usr/bin/env bash
# Starts and stops the local Kafka-compatible broker (Tansu) on 127.0.0.1.
#
#   scripts/broker.sh start [--durable] [--port N]   start (memory storage unless --durable)
#   scripts/broker.sh stop  [--port N] [--keep-storage]  stop what start started, by PID
#                                                     (--keep-storage leaves SeaweedFS running,
#                                                     so a broker restart finds its data)
#   scripts/broker.sh status [--port N]
#
# --durable keeps the log in SeaweedFS's S3 interface (started alongside, data under the
# state directory), so that records survive a broker restart or kill -9.
# State (PIDs, logs, data) lives in $STATEFUN_BROKER_DIR, default .broker/ in the repository.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
TOOLS=/opt/statefun-tools/bin
PORT=9092
DURABLE=0
KEEP_STORAGE=0
cmd=${1:-}; shift || true
while [ $# -gt 0 ]; do
    case "$1" in
        --durable) DURABLE=1 ;;
        --keep-storage) KEEP_STORAGE=1 ;;
        --port) PORT=$2; shift ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
    shift
done
STATE=${STATEFUN_BROKER_DIR:-$here/../.broker}/$PORT
mkdir -p "$STATE"
S3_PORT=$((PORT + 10000))

log() { printf '[broker] %s\n' "$*" >&2; }

alive() { [ -f "$STATE/$1.pid" ] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

wait_until() { # seconds description command...
    local limit=$1 what=$2; shift 2
    for _ in $(seq 1 $((limit * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    log "$what did not come up within ${limit}s; see $STATE/*.log"; return 1
}

start_seaweedfs() {
    alive weed && return
    mkdir -p "$STATE/seaweedfs"
    "$TOOLS/weed" server -dir="$STATE/seaweedfs" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -master.port=$((PORT + 10001)) -volume.port=$((PORT + 10002)) -filer.port=$((PORT + 10003)) \
        -master.port.grpc=$((PORT + 10004)) -volume.port.grpc=$((PORT + 10005)) \
        -filer.port.grpc=$((PORT + 10006)) -s3.port.grpc=$((PORT + 10007)) \
        -s3 -s3.port="$S3_PORT" -s3.port.iceberg=0 -s3.port.lance=0 >"$STATE/weed.log" 2>&1 &
    echo $! >"$STATE/weed.pid"
    wait_until 60 "SeaweedFS S3" curl -sf -X PUT "http://127.0.0.1:$S3_PORT/tansu"
}

start() {
    if alive tansu; then log "already running on 127.0.0.1:$PORT (pid $(cat "$STATE/tansu.pid"))"; return; fi
    [ -x "$TOOLS/tansu" ] || "$here/bootstrap.sh"
    local storage=memory://tansu/
    if [ "$DURABLE" = 1 ]; then
        start_seaweedfs
        storage=s3://tansu/
        export AWS_ENDPOINT="http://127.0.0.1:$S3_PORT" AWS_ALLOW_HTTP=true \
               AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1
    fi
    "$TOOLS/tansu" broker --listener-url "tcp://127.0.0.1:$PORT" \
        --advertised-listener-url "tcp://127.0.0.1:$PORT" --storage-engine "$storage" \
        >"$STATE/tansu.log" 2>&1 &
    echo $! >"$STATE/tansu.pid"
    wait_until 30 "Tansu" kcat -L -b "127.0.0.1:$PORT" -m 1
    log "Tansu on 127.0.0.1:$PORT ($storage), pid $(cat "$STATE/tansu.pid")"
}

stop_one() {
    alive "$1" || { rm -f "$STATE/$1.pid"; return 0; }
    local pid; pid=$(cat "$STATE/$1.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$STATE/$1.pid"
    log "stopped $1 (pid $pid)"
}

case "$cmd" in
    start) start ;;
    stop) stop_one tansu; [ "$KEEP_STORAGE" = 1 ] || stop_one weed ;;
    status) if alive tansu; then echo "running on 127.0.0.1:$PORT (pid $(cat "$STATE/tansu.pid"))"; else echo "stopped"; exit 1; fi ;;
    *) sed -n '2,11p' "$0" >&2; exit 2 ;;
esac
