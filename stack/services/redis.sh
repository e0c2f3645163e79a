# Redis 7 from Debian's redis-server package; append-only file so data survives down/up.

port_redis() { echo "$REDIS_PORT"; }
url_redis() { echo "redis://127.0.0.1:$REDIS_PORT"; }

provision_redis() {
  command -v redis-server >/dev/null && return 0
  say "redis: installing Debian's redis-server"
  apt_install redis-server
  command -v redis-server >/dev/null || die "redis-server still missing after apt-get install"
}

start_redis() {
  local dir="$STACK_DIR/data/redis"
  mkdir -p "$dir"
  # Foreground under spawn (not --daemonize) so the pid file names the server itself.
  spawn redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$dir" \
    --appendonly yes --save '' --protected-mode yes --maxclients 10000
}
