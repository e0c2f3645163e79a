# Shared helpers for stack.sh: progress lines, port probes and pid-file process control.
# Each service file defines provision_<s>, start_<s>, port_<s> and url_<s>; these helpers do the rest the same way.
# Optional hooks: ready_<s> (more than an open port), and for a service that runs on a server of its own (mongo's
# PostgreSQL) deps_up_<s> (idempotent; before start, and when the service is already up), deps_down_<s> (after the
# service stopped) and deps_status_<s> (prints its own line, fails when down).

say() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_file() { echo "$STACK_DIR/run/$1.pid"; }
log_file() { echo "$STACK_DIR/log/$1.log"; }

# The pid of a running service we started, or nothing.
service_pid() {
  local f pid
  f=$(pid_file "$1")
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

# Starts a command detached from this shell (its own session, so a terminal's ^C or the caller exiting does not
# stop it), appending to the service's log and recording its pid.
spawn() {
  local name=$1; shift
  mkdir -p "$STACK_DIR/run" "$STACK_DIR/log"
  setsid nohup "$@" >>"$(log_file "$name")" 2>&1 < /dev/null &
  echo $! > "$(pid_file "$name")"
}

wait_port() {
  local name=$1 port=$2 seconds=$3 i pid
  for ((i = 0; i < seconds * 4; i++)); do
    port_open "$port" && return 0
    pid=$(service_pid "$name")
    if [ -z "$pid" ]; then
      say "$name exited while starting; last lines of $(log_file "$name"):"
      tail -n 20 "$(log_file "$name")" >&2 || true
      return 1
    fi
    sleep 0.25
  done
  say "$name did not open port $port within ${seconds}s; see $(log_file "$name")"
  return 1
}

up_service() {
  local s=$1 port
  port=$("port_$s")
  if port_open "$port"; then
    if [ -z "$(service_pid "$s")" ]; then
      say "$s: port $port is already taken by a process this stack did not start; using it as is"
    elif declare -F "deps_up_$s" >/dev/null; then
      "deps_up_$s" || return 1
    fi
    say "$s: running at $("url_$s")"
    return 0
  fi
  "provision_$s"
  if declare -F "deps_up_$s" >/dev/null; then "deps_up_$s" || return 1; fi
  say "$s: starting"
  local t0=$SECONDS
  "start_$s"
  wait_port "$s" "$port" 90 || return 1
  if declare -F "ready_$s" >/dev/null; then "ready_$s" || return 1; fi
  say "$s: up at $("url_$s") in $((SECONDS - t0))s"
}

down_service() {
  stop_service "$1" || return 1
  if declare -F "deps_down_$1" >/dev/null; then "deps_down_$1" || return 1; fi
}

stop_service() {
  local s=$1 pid i
  pid=$(service_pid "$s")
  if [ -z "$pid" ]; then
    rm -f "$(pid_file "$s")"
    if port_open "$("port_$s")"; then say "$s: port $("port_$s") is served by a process this stack did not start; left alone"; fi
    say "$s: stopped"
    return 0
  fi
  say "$s: stopping (pid $pid)"
  # The whole session, so a wrapper's children (the emulator's runtime, the JVM) go too.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 120; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$s: still running after 30s, killing"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  for ((i = 0; i < 40; i++)); do port_open "$("port_$s")" || break; sleep 0.25; done
  rm -f "$(pid_file "$s")"
  say "$s: stopped"
}

status_service() {
  local s=$1 pid rc=0
  pid=$(service_pid "$s")
  if port_open "$("port_$s")"; then
    printf '%-7s up    %-40s pid %s\n' "$s" "$("url_$s")" "${pid:-?}"
  else
    printf '%-7s down  %s\n' "$s" "$("url_$s")"
    rc=1
  fi
  if declare -F "deps_status_$s" >/dev/null; then "deps_status_$s" || rc=1; fi
  return $rc
}

# Hash of the files an artefact is built from, so a changed source rebuilds and an unchanged one is reused.
stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

# Builds a Go command from the module proxy (`go install <package>@<version>`) to $1, a path in the cache: through a
# scratch GOBIN, then renamed into place, so a concurrent or interrupted build never leaves a half-written binary.
# Modules go to Go's own download cache. Usage: go_install_cached <binary path> <package@version> <service>
go_install_cached() {
  local bin=$1 pkg=$2 what=$3 gobin name
  command -v go >/dev/null || die "$what: Go is needed to build it (apt-get install golang, or put go on PATH)"
  gobin=$(mktemp -d)
  if ! CGO_ENABLED=0 GOBIN="$gobin" go install -trimpath "$pkg"; then rm -rf "$gobin"; die "$what: building $pkg failed"; fi
  name=${pkg%@*}
  name=${name##*/} # go install names the binary after the package's last path element
  mkdir -p "$(dirname "$bin")"
  mv "$gobin/$name" "$bin.tmp.$$" && mv "$bin.tmp.$$" "$bin"
  rm -rf "$gobin"
}

# The token secret of this machine's stack: generated once (48 random bytes), kept in the git-ignored stack folder,
# read by the local identity function, `postboard token` and the app (src/shared/config.ts). Never in the repository.
ensure_token_secret() {
  local f="$STACK_DIR/token-secret"
  [ -s "$f" ] && return 0
  (umask 077 && head -c 48 /dev/urandom | base64 | tr -d '\n=' | tr '+/' '-_' > "$f")
  say "token secret: generated for this machine in $f"
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root to run: $* (install it yourself, or run as root)"
  fi
}

# Installs Debian packages, as root or through sudo: what the stack (and scripts/ beside it) take from Debian.
apt_install() {
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}
