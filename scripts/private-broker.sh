# Sourced by the scripts that need a broker of their own: installs what is missing, starts
# Tansu on $1 and stops it when the calling script exits.
# shellcheck shell=bash
start_private_broker() {
    ./scripts/bootstrap.sh
    PRIVATE_BROKER_PORT=$1
    ./scripts/broker.sh start --port "$PRIVATE_BROKER_PORT"
    trap './scripts/broker.sh stop --port "$PRIVATE_BROKER_PORT"' EXIT
}
