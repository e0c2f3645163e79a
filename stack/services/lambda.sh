# The identity validator as a Lambda function behind the Lambda Invoke API, on 127.0.0.1:$LAMBDA_PORT.
# The emulator runs our bootstrap (src/identity/lambda-runtime.ts, the Runtime API loop) around our handler.
# Preferred emulator: the real aws-lambda-rie (on PATH, or AWS_LAMBDA_RIE_BIN). It cannot be obtained on these machines
# (the Go module proxy answers 403 for it, release downloads are unreachable, no package ships it), so the fallback is
# stack/lambda-rie-lite: a stand-in with the same CLI and the same two protocols, NOT the real emulator.

port_lambda() { echo "$LAMBDA_PORT"; }
url_lambda() { echo "http://127.0.0.1:$LAMBDA_PORT"; }

lambda_emulator() {
  if [ -n "${AWS_LAMBDA_RIE_BIN:-}" ]; then echo "$AWS_LAMBDA_RIE_BIN"; return; fi
  if command -v aws-lambda-rie >/dev/null; then command -v aws-lambda-rie; return; fi
  echo "$CACHE_DIR/lambda-rie-lite-$(stamp_of "$ROOT"/stack/lambda-rie-lite/{go.mod,main.go})/lambda-rie-lite"
}

provision_lambda() {
  local bin
  bin=$(lambda_emulator)
  [ -x "$bin" ] && return 0
  case "$bin" in
    */lambda-rie-lite) ;;
    *) die "lambda: emulator '$bin' is not an executable file" ;;
  esac
  command -v go >/dev/null || die "lambda: Go is needed to build the emulator"
  say "lambda: aws-lambda-rie is not available here; building the lambda-rie-lite stand-in"
  (cd "$ROOT/stack/lambda-rie-lite" && CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" .) || die "lambda: build failed"
  mv "$bin.tmp" "$bin"
  [ -x "$ROOT/node_modules/.bin/tsx" ] || die "lambda: run 'npm install' first (the bootstrap runs with tsx)"
}

# The bootstrap is one executable path, as on Lambda: the real emulator parses its whole command line with go-flags
# (unknown options ignored), so node's own flags must not appear on it.
write_lambda_bootstrap() {
  local f="$STACK_DIR/run/lambda-bootstrap"
  mkdir -p "$STACK_DIR/run"
  printf '#!/bin/sh\n# Written by stack/services/lambda.sh: the Runtime API loop around src/identity/handler.ts.\nexec %q --import %q %q\n' \
    "$(command -v node)" "$ROOT/node_modules/tsx/dist/esm/index.mjs" "$ROOT/src/identity/lambda-runtime.ts" > "$f"
  chmod +x "$f"
  echo "$f"
}

start_lambda() {
  local bootstrap
  bootstrap=$(write_lambda_bootstrap)
  # The function gets only what it needs: the token settings, never the app's other configuration.
  # TOKEN_SECRET from the environment when set, else this machine's generated one (ensure_token_secret).
  spawn lambda env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
    TOKEN_SECRET="${TOKEN_SECRET:-$(cat "$STACK_DIR/token-secret")}" ${TOKEN_ISSUER:+TOKEN_ISSUER="$TOKEN_ISSUER"} \
    ${TOKEN_AUDIENCE:+TOKEN_AUDIENCE="$TOKEN_AUDIENCE"} ${TOKEN_JWKS_URL:+TOKEN_JWKS_URL="$TOKEN_JWKS_URL"} \
    ${TOKEN_ALGORITHMS:+TOKEN_ALGORITHMS="$TOKEN_ALGORITHMS"} \
    "$(lambda_emulator)" --runtime-interface-emulator-address "127.0.0.1:$LAMBDA_PORT" \
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
