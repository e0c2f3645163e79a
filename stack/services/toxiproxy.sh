# Shopify's toxiproxy 2.5.0, a TCP proxy that injects faults (latency, blackholes, resets, slow closes, bandwidth
# limits) on demand through its HTTP API; the reliability tier's chaos tests (test/reliability/chaos-*.test.ts) put it
# between the app and each of Redis, MongoDB and Kafka. Built from the Go module proxy into the cache dir. Its three
# proxies are created at start from a config file; nothing goes through them unless an app is pointed at their ports.
# Kafka's broker advertises a listener of its own at the proxy's port (kafka.sh), so a client that bootstraps through
# the proxy stays behind it.

TOXIPROXY_VERSION=2.5.0
port_toxiproxy() { echo "$TOXIPROXY_PORT"; }
url_toxiproxy() { echo "http://127.0.0.1:$TOXIPROXY_PORT"; }

toxiproxy_bin() { echo "$CACHE_DIR/toxiproxy-$TOXIPROXY_VERSION/toxiproxy-server"; }

provision_toxiproxy() {
  local bin
  bin=$(toxiproxy_bin)
  [ -x "$bin" ] && return 0
  say "toxiproxy: building toxiproxy $TOXIPROXY_VERSION (first time only)"
  go_install_cached "$bin" "github.com/Shopify/toxiproxy/v2/cmd/server@v$TOXIPROXY_VERSION" toxiproxy
}

# One proxy per dependency: name, where it listens, where it forwards (Kafka: the broker's proxied listener).
write_toxiproxy_config() {
  mkdir -p "$STACK_DIR/toxiproxy"
  cat > "$STACK_DIR/toxiproxy/proxies.json" <<JSON
[
  { "name": "redis", "listen": "127.0.0.1:$TOXIPROXY_REDIS_PORT", "upstream": "127.0.0.1:$REDIS_PORT", "enabled": true },
  { "name": "mongo", "listen": "127.0.0.1:$TOXIPROXY_MONGO_PORT", "upstream": "127.0.0.1:$MONGO_PORT", "enabled": true },
  { "name": "kafka", "listen": "127.0.0.1:$TOXIPROXY_KAFKA_PORT", "upstream": "127.0.0.1:$KAFKA_PROXIED_PORT", "enabled": true }
]
JSON
}

start_toxiproxy() {
  write_toxiproxy_config
  spawn toxiproxy "$(toxiproxy_bin)" -host 127.0.0.1 -port "$TOXIPROXY_PORT" -config "$STACK_DIR/toxiproxy/proxies.json"
}

# The API port opens before the config's proxies listen: wait for all three.
ready_toxiproxy() {
  local i
  for ((i = 0; i < 40; i++)); do
    port_open "$TOXIPROXY_REDIS_PORT" && port_open "$TOXIPROXY_MONGO_PORT" && port_open "$TOXIPROXY_KAFKA_PORT" && return 0
    sleep 0.25
  done
  say "toxiproxy: its proxies did not open; see $(log_file toxiproxy)"
  return 1
}
