# The identity validator as a Lambda function behind the Lambda Invoke API, on 127.0.0.1:$LAMBDA_PORT.
# The emulator is the real AWS Lambda Runtime Interface Emulator (aws-lambda-rie), built once from its Go module at a
# pinned version into the cache; AWS_LAMBDA_RIE_BIN names another build to use instead. It runs our bootstrap
# (src/identity/lambda-runtime.ts, the Runtime API loop) around our handler, and serves one invoke at a time.

RIE_MODULE=github.com/aws/aws-lambda-runtime-interface-emulator
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d

port_lambda() { echo "$LAMBDA_PORT"; }
url_lambda() { echo "http://127.0.0.1:$LAMBDA_PORT"; }

lambda_emulator() {
  if [ -n "${AWS_LAMBDA_RIE_BIN:-}" ]; then echo "$AWS_LAMBDA_RIE_BIN"; return; fi
  echo "$CACHE_DIR/aws-lambda-rie-$RIE_VERSION/aws-lambda-rie"
}

# The Node.js the project pins (the `node` devDependency: node_modules/.bin/node), else the one on PATH.
project_node() {
  if [ -x "$ROOT/node_modules/.bin/node" ]; then echo "$ROOT/node_modules/.bin/node"; else command -v node; fi
}

provision_lambda() {
  [ -x "$ROOT/node_modules/.bin/tsx" ] || die "lambda: run 'npm install' first (the bootstrap runs with tsx)"
  local bin
  bin=$(lambda_emulator)
  [ -x "$bin" ] && return 0
  [ -n "${AWS_LAMBDA_RIE_BIN:-}" ] && die "lambda: AWS_LAMBDA_RIE_BIN='$bin' is not an executable file"
  say "lambda: building aws-lambda-rie $RIE_VERSION (first time only; about 30-50 s cold)"
  go_install_cached "$bin" "$RIE_MODULE/cmd/aws-lambda-rie@$RIE_VERSION" lambda
}

# The bootstrap is one executable path, as on Lambda: the emulator parses its whole command line with go-flags
# (unknown options ignored), so node's own flags must not appear on it.
write_lambda_bootstrap() {
  local f="$STACK_DIR/run/lambda-bootstrap"
  mkdir -p "$STACK_DIR/run"
  printf '#!/bin/sh\n# Written by stack/services/lambda.sh: the Runtime API loop around src/identity/handler.ts.\nexec %q --import %q %q\n' \
    "$(project_node)" "$ROOT/node_modules/tsx/dist/esm/index.mjs" "$ROOT/src/identity/lambda-runtime.ts" > "$f"
  chmod +x "$f"
  echo "$f"
}

# The real emulator panics (and exits) when a second invoke arrives while one is running; the app sends it one at a
# time (IDENTITY_MAX_INVOKES), but several processes on one stack can still collide. So it runs under a restart loop:
# a crash costs the invokes in flight (503s, fail closed) and about a second, never the service. Stopping the stack
# signals the whole session, loop included.
start_lambda() {
  local bootstrap
  bootstrap=$(write_lambda_bootstrap)
  # The function gets only what it needs: the token settings, never the app's other configuration.
  # TOKEN_SECRET from the environment when set, else this machine's generated one (ensure_token_secret).
  spawn lambda env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
    TOKEN_SECRET="${TOKEN_SECRET:-$(cat "$STACK_DIR/token-secret")}" ${TOKEN_ISSUER:+TOKEN_ISSUER="$TOKEN_ISSUER"} \
    ${TOKEN_AUDIENCE:+TOKEN_AUDIENCE="$TOKEN_AUDIENCE"} ${TOKEN_JWKS_URL:+TOKEN_JWKS_URL="$TOKEN_JWKS_URL"} \
    ${TOKEN_ALGORITHMS:+TOKEN_ALGORITHMS="$TOKEN_ALGORITHMS"} \
    bash -c 'trap "exit 0" TERM INT; while :; do "$@" & wait $! && exit 0; echo "[stack] emulator exited ($?); restarting"; sleep 0.2; done' \
    lambda-supervisor "$(lambda_emulator)" --runtime-interface-emulator-address "127.0.0.1:$LAMBDA_PORT" \
    --runtime-api-address "127.0.0.1:$LAMBDA_RUNTIME_PORT" "$bootstrap"
}

# The port opens before the runtime has loaded the handler; one real invoke proves the whole path.
ready_lambda() {
  local i
  for ((i = 0; i < 60; i++)); do
    if curl -fsS -m 5 -X POST -d '{"token":""}' "$(url_lambda)/2015-03-31/functions/function/invocations" \
      2>/dev/null | grep -q '"valid"'; then
      return 0
    fi
    sleep 0.5
  done
  say "lambda: the emulator answers but the function does not; see $(log_file lambda)"
  return 1
}
