#!/usr/bin/env bash
# postboard's local stack: provisions, starts, stops and reports the four real servers the app and its tests use,
# and the fault-injecting proxy in front of three of them, all on 127.0.0.1.
# Usage: stack.sh up|down|status|provision|restart [redis|mongo|kafka|lambda|toxiproxy ...] (none = all).
# Idempotent per service; heavy artefacts (FerretDB binary, Kafka jars, the Lambda emulator) are cached so a second
# run takes seconds. Data survives down/up.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK_DIR=${POSTBOARD_STACK_DIR:-$ROOT/.stack}          # data, logs, pid files (git-ignored)
CACHE_DIR=${POSTBOARD_CACHE_DIR:-$STACK_DIR/cache}      # built binaries and jars; CI points this outside the clone
export ROOT STACK_DIR CACHE_DIR

REDIS_PORT=${STACK_REDIS_PORT:-6380}
MONGO_PORT=${STACK_MONGO_PORT:-27018}
KAFKA_PORT=${STACK_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${STACK_KAFKA_CONTROLLER_PORT:-9093}
LAMBDA_PORT=${STACK_LAMBDA_PORT:-9001}
LAMBDA_RUNTIME_PORT=${STACK_LAMBDA_RUNTIME_PORT:-$((LAMBDA_PORT + 1))}  # the emulator's Runtime API, for our bootstrap
POSTGRES_PORT=${STACK_POSTGRES_PORT:-5433}                        # FerretDB's PostgreSQL; 5432 is left to a system one
export REDIS_PORT MONGO_PORT KAFKA_PORT KAFKA_CONTROLLER_PORT LAMBDA_PORT LAMBDA_RUNTIME_PORT POSTGRES_PORT
# The fault-injecting proxy (toxiproxy.sh): its API, one listen port per dependency, and the broker listener that the
# Kafka proxy forwards to (advertised at the proxy's port, kafka.sh).
TOXIPROXY_PORT=${STACK_TOXIPROXY_PORT:-8474}
TOXIPROXY_REDIS_PORT=${STACK_TOXIPROXY_REDIS_PORT:-16480}
TOXIPROXY_MONGO_PORT=${STACK_TOXIPROXY_MONGO_PORT:-16481}
TOXIPROXY_KAFKA_PORT=${STACK_TOXIPROXY_KAFKA_PORT:-16482}
KAFKA_PROXIED_PORT=${STACK_KAFKA_PROXIED_PORT:-16483}
export TOXIPROXY_PORT TOXIPROXY_REDIS_PORT TOXIPROXY_MONGO_PORT TOXIPROXY_KAFKA_PORT KAFKA_PROXIED_PORT

ALL_SERVICES=(redis mongo kafka lambda toxiproxy)

# shellcheck source=stack/lib.sh
source "$ROOT/stack/lib.sh"
for s in "${ALL_SERVICES[@]}"; do
  # shellcheck disable=SC1090
  source "$ROOT/stack/services/$s.sh"
done

usage() {
  echo "usage: npm run stack -- up|down|status|provision|restart [${ALL_SERVICES[*]}]" >&2
  exit 2
}

cmd=${1:-status}
shift || true
services=("$@")
[ ${#services[@]} -eq 0 ] && services=("${ALL_SERVICES[@]}")
for s in "${services[@]}"; do
  case " ${ALL_SERVICES[*]} " in
    *" $s "*) ;;
    *) echo "stack: unknown service '$s' (known: ${ALL_SERVICES[*]})" >&2; exit 2 ;;
  esac
done

mkdir -p "$STACK_DIR" "$CACHE_DIR"
ensure_token_secret
rc=0
case "$cmd" in
  provision) for s in "${services[@]}"; do "provision_$s"; done ;;
  up)        for s in "${services[@]}"; do up_service "$s" || rc=1; done ;;
  down)      for s in "${services[@]}"; do down_service "$s" || rc=1; done ;;
  restart)   for s in "${services[@]}"; do down_service "$s" || rc=1; up_service "$s" || rc=1; done ;;
  status)    for s in "${services[@]}"; do status_service "$s" || rc=3; done ;;
  *) usage ;;
esac
exit $rc
