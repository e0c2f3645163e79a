# FerretDB v1.24.2 (MongoDB wire protocol, SQLite backend), built from the Go module proxy through our wrapper
# module in stack/ferretdb (the plain `go install` binary panics at start: FerretDB issue #2982).

port_mongo() { echo "$MONGO_PORT"; }
url_mongo() { echo "mongodb://127.0.0.1:$MONGO_PORT"; }

ferretdb_bin() { echo "$CACHE_DIR/ferretdb-$(stamp_of "$ROOT"/stack/ferretdb/{go.mod,go.sum,main.go})/ferretdb"; }

provision_mongo() {
  local bin
  bin=$(ferretdb_bin)
  [ -x "$bin" ] && return 0
  command -v go >/dev/null || die "mongo: Go is needed to build FerretDB (apt-get install golang, or put go on PATH)"
  say "mongo: building FerretDB v1.24.2 (first time only; a cold build downloads modules and takes a few minutes)"
  (cd "$ROOT/stack/ferretdb" && CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" .) || die "mongo: FerretDB build failed"
  mv "$bin.tmp" "$bin"
}

start_mongo() {
  spawn mongo "$(ferretdb_bin)" --listen-addr "127.0.0.1:$MONGO_PORT" --sqlite-dir "$STACK_DIR/data/mongo" \
    --log-level "${STACK_MONGO_LOG_LEVEL:-warn}"
}
