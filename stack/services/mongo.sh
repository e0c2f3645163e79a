# FerretDB v1.24.2 (MongoDB wire protocol) on its PostgreSQL backend: a private PostgreSQL cluster under
# $STACK_DIR/data/postgres (Debian's postgresql package, socket under $STACK_DIR/run/postgres, TCP 127.0.0.1 on
# $POSTGRES_PORT), and FerretDB built from the Go module proxy through our wrapper module in stack/ferretdb (the plain
# `go install` binary panics at start: FerretDB issue #2982). PostgreSQL rather than SQLite because the SQLite backend
# scans the whole collection for every integer-_id lookup and has a single writer (docs/operations.md, MongoDB 7 vs the local FerretDB).

port_mongo() { echo "$MONGO_PORT"; }
url_mongo() { echo "mongodb://127.0.0.1:$MONGO_PORT"; }

ferretdb_bin() { echo "$CACHE_DIR/ferretdb-$(stamp_of "$ROOT"/stack/ferretdb/{go.mod,go.sum,main.go})/ferretdb"; }

# As root, PostgreSQL runs as the unprivileged postgres user (below), which must reach its folders. A stack inside a
# private folder (a clone under /root, say) keeps PostgreSQL's data, socket and log under /var/tmp instead, in a
# folder named after the stack's, so `npm run dev` works from any clone; everything else stays in $STACK_DIR.
pg_home() {
  local d=$STACK_DIR
  while [ ! -e "$d" ]; do d=$(dirname "$d"); done
  if [ "$(id -u)" -eq 0 ] && ! runuser -u nobody -- test -x "$d" 2>/dev/null; then
    echo "/var/tmp/postboard-pg-$(printf %s "$STACK_DIR" | sha256sum | cut -c1-12)"
  else
    echo "$STACK_DIR"
  fi
}
PG_HOME=$(pg_home)
PG_DATA=$PG_HOME/data/postgres
PG_SOCKET_DIR=$PG_HOME/run/postgres
PG_LOG=$PG_HOME/log/postgres.log

# pool_max_conns: FerretDB v1 runs an update or findAndModify by holding one pooled connection for the query that
# finds the documents while it takes a second one for the write (handler/common/update.go, backends/postgresql
# UpdateAll), so as many concurrent updates as the pool is large deadlock it for good (FerretDB's default is 50;
# 100 concurrent $inc hung it here). The pool must exceed the concurrent updates of every client together.
FERRETDB_PG_POOL=${STACK_FERRETDB_PG_POOL:-400}

# Debian keeps the server programs out of PATH, under /usr/lib/postgresql/<major>/bin; prefer the one PATH leads to
# (followed through symlinks, so psql is the same version's, not Debian's /usr/bin wrapper).
pg_bindir() {
  if command -v pg_ctl >/dev/null; then dirname "$(readlink -f "$(command -v pg_ctl)")"; return; fi
  local d
  d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/pg_ctl" ] && echo "$d"
}

# PostgreSQL refuses to run as root: as root, run its programs as the package's unprivileged `postgres` user;
# as anyone else, run them directly.
as_pg() {
  # From /: the caller's folder may be one the postgres user cannot enter (psql and pg_ctl would complain).
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

pg_ctl_() { as_pg "$(pg_bindir)/pg_ctl" -D "$PG_DATA" "$@"; }
pg_running() { [ -f "$PG_DATA/PG_VERSION" ] && pg_ctl_ status >/dev/null 2>&1; }

provision_mongo() {
  if [ -z "$(pg_bindir)" ]; then
    say "mongo: installing Debian's postgresql (FerretDB's storage)"
    apt_install postgresql
    [ -n "$(pg_bindir)" ] || die "mongo: PostgreSQL's server programs are still missing after apt-get install postgresql"
  fi
  local bin
  bin=$(ferretdb_bin)
  [ -x "$bin" ] && return 0
  command -v go >/dev/null || die "mongo: Go is needed to build FerretDB (apt-get install golang, or put go on PATH)"
  say "mongo: building FerretDB v1.24.2 (first time only; a cold build downloads modules and takes a few minutes)"
  (cd "$ROOT/stack/ferretdb" && CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" .) || die "mongo: FerretDB build failed"
  mv "$bin.tmp" "$bin"
}

# Directories PostgreSQL writes to must belong to the user it runs as.
pg_own() {
  local p
  for p in "$@"; do [ -e "$p" ] || mkdir -p "$p"; done
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "mongo: no 'postgres' user to run PostgreSQL as (apt-get install postgresql)"
    chown postgres: "$@"
  fi
}

pg_init() {
  [ -f "$PG_DATA/PG_VERSION" ] && return 0
  pg_own "$PG_DATA"
  chmod 700 "$PG_DATA"
  as_pg test -w "$PG_DATA" ||
    die "mongo: user postgres cannot reach $PG_DATA; set POSTBOARD_STACK_DIR to a folder it can reach"
  say "mongo: creating the PostgreSQL cluster in $PG_DATA"
  # Trust on the local socket and 127.0.0.1 only, like the stack's Redis: a dev/test store, never exposed.
  # C locale: byte-order text, no dependence on the machine's locales.
  as_pg "$(pg_bindir)/initdb" -D "$PG_DATA" -U ferretdb --auth=trust -E UTF8 --locale=C >/dev/null ||
    die "mongo: initdb failed"
  echo "include_if_exists = 'postboard.conf'" >> "$PG_DATA/postgresql.conf"
}

# Rewritten on every start, so a change here takes effect at the next `restart mongo`. Durability defaults stay
# (fsync, full_page_writes): a crash never corrupts the cluster.
write_pg_config() {
  cat > "$PG_DATA/postboard.conf" <<CONF
# Written by stack/services/mongo.sh at each start; edit it there.
listen_addresses = '127.0.0.1'
port = $POSTGRES_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
# A commit returns before its WAL is flushed: an OS crash or power loss may drop the last fraction of a second of
# commits, but never half-applies one or corrupts anything (unlike fsync = off). Right for a local dev/test store,
# and it takes the per-insert flush out of the write benchmark.
synchronous_commit = off
# FerretDB runs short queries; JIT compilation would only add latency spikes to scans of large test collections.
jit = off
# FerretDB's pool (FERRETDB_PG_POOL) plus room for psql; connections open only as concurrency needs them.
max_connections = $((FERRETDB_PG_POOL + 20))
CONF
  chmod 644 "$PG_DATA/postboard.conf"
}

# psql on our cluster, as its superuser: pg_sql <database> [psql arguments]
pg_sql() {
  local db=$1; shift
  as_pg "$(pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$POSTGRES_PORT" -U ferretdb -d "$db" "$@"
}

# Idempotent: starts the cluster unless it already runs, and makes sure FerretDB's database exists.
deps_up_mongo() {
  pg_init
  if ! pg_running; then
    port_open "$POSTGRES_PORT" && die "mongo: port $POSTGRES_PORT is taken by another server; set STACK_POSTGRES_PORT"
    write_pg_config
    pg_own "$PG_SOCKET_DIR"
    mkdir -p "$(dirname "$PG_LOG")"
    touch "$PG_LOG"
    pg_own "$PG_LOG"
    say "mongo: starting PostgreSQL on port $POSTGRES_PORT"
    pg_ctl_ -l "$PG_LOG" -w -t 60 start >/dev/null || {
      tail -n 20 "$PG_LOG" >&2
      die "mongo: PostgreSQL did not start; see $PG_LOG"
    }
  fi
  if [ "$(pg_sql postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'ferretdb'")" != 1 ]; then
    pg_sql postgres -c 'CREATE DATABASE ferretdb' || die "mongo: could not create the ferretdb database"
  fi
  pg_sql ferretdb -1 >/dev/null <<'SQL' || die "mongo: could not install the _id index trigger"
-- FerretDB v1 pushes {_id: v} down as `_jsonb->'_id' @> v`, which its own btree index on (_jsonb->'_id') cannot
-- serve, so every by-id read scans its table. A GIN index on the same expression can: this trigger gives every
-- collection table FerretDB creates one (2,000 times faster at 100,000 documents). FerretDB does not know the index
-- exists; it goes with the table. fastupdate off: a pending list filled by a burst of inserts made every lookup
-- scan it (8 ms instead of 0.04 ms after 100,000 inserts), for a few microseconds saved per insert.
CREATE OR REPLACE FUNCTION postboard_index_id() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE t regclass;
BEGIN
  FOR t IN SELECT objid FROM pg_event_trigger_ddl_commands() c JOIN pg_class r ON r.oid = c.objid
    WHERE c.command_tag = 'CREATE TABLE' AND r.relkind = 'r' AND r.relname NOT LIKE '\_ferretdb\_%'
      AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = r.oid AND a.attname = '_jsonb')
  LOOP
    EXECUTE format('CREATE INDEX ON %s USING gin ((_jsonb -> ''_id'') jsonb_path_ops) WITH (fastupdate = off)', t);
  END LOOP;
END $$;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'postboard_index_id') THEN
    CREATE EVENT TRIGGER postboard_index_id ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
      EXECUTE FUNCTION postboard_index_id();
  END IF;
END $$;
SQL
}

deps_down_mongo() {
  pg_running || return 0
  say "mongo: stopping PostgreSQL"
  # fast: disconnects any client and shuts down cleanly (checkpoint), unlike smart (waits for clients) or immediate.
  pg_ctl_ -m fast -w -t 60 stop >/dev/null || { say "mongo: PostgreSQL did not stop; see $PG_LOG"; return 1; }
}

deps_status_mongo() {
  if pg_running; then
    printf '%-7s up    %-40s pid %s\n' '  pg' "postgresql://127.0.0.1:$POSTGRES_PORT/ferretdb" \
      "$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || echo '?')"
  else
    printf '%-7s down  %s\n' '  pg' "postgresql://127.0.0.1:$POSTGRES_PORT/ferretdb"
    return 1
  fi
}

start_mongo() {
  local socket=${PG_SOCKET_DIR// /%20}
  spawn mongo "$(ferretdb_bin)" --listen-addr "127.0.0.1:$MONGO_PORT" \
    --postgresql-url "postgres://ferretdb@/ferretdb?host=$socket&port=$POSTGRES_PORT&pool_max_conns=$FERRETDB_PG_POOL" \
    --log-level "${STACK_MONGO_LOG_LEVEL:-warn}"
}
