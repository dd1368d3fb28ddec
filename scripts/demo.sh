#!/usr/bin/env bash
# THE main-job command: the chat application. Installs deps, configures + builds the `default`
# preset (the chat targets only), starts qaio-chat-server on 127.0.0.1:6667 (the embedded default),
# then opens the Qt client connected to it, or the console client when there is no display.
# Quitting the client stops the server. Build output goes to stderr.
#
#   scripts/demo.sh [client options...]     e.g. scripts/demo.sh --nick alice --join '#qaio'
#
# Environment: QAIO_SKIP_DEPS=1 skips scripts/install-deps.sh; QAIO_DEMO_CLIENT=gui|cli forces a
# client; QAIO_DEMO_PORT changes the port (default 6667).
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)
cd "$ROOT"

if [[ "${QAIO_SKIP_DEPS:-0}" != 1 ]]; then
  "$SCRIPT_DIR/install-deps.sh" >&2
fi

{
  echo "==== demo.sh: configure + build the chat programs (preset default) ===="
  cmake --preset default
  cmake --build --preset default --target qaio-chat-server qaio-chat-cli
  # The Qt Widgets client is optional: without Qt6 Widgets the demo falls back to the console client.
  cmake --build --preset default --target qaio-chat || true
} >&2

BIN="$ROOT/build/default/examples"
SERVER="$BIN/chat/server/qaio-chat-server"
CLI="$BIN/chat/cli/qaio-chat-cli"
GUI="$BIN/qtapp/qaio-chat"
PORT="${QAIO_DEMO_PORT:-6667}"

client="${QAIO_DEMO_CLIENT:-}"
if [[ -z "$client" ]]; then
  if [[ -x "$GUI" && ( -n "${DISPLAY:-}" || -n "${WAYLAND_DISPLAY:-}" ) ]]; then client=gui; else client=cli; fi
fi

echo "==== demo.sh: starting $SERVER on 127.0.0.1:$PORT ====" >&2
SERVER_LOG=$(mktemp -t qaio-chat-server.XXXXXX.log)
"$SERVER" --host 127.0.0.1 --port "$PORT" --log-level info >"$SERVER_LOG.out" 2>"$SERVER_LOG" &
SERVER_PID=$!
cleanup() {
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  echo "==== demo.sh: server stopped (log: $SERVER_LOG) ====" >&2
}
trap cleanup EXIT
for _ in $(seq 1 50); do
  grep -q "listening on" "$SERVER_LOG.out" 2>/dev/null && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "demo.sh: the server did not start (port $PORT busy?):" >&2
    cat "$SERVER_LOG" >&2
    exit 1
  fi
  sleep 0.1
done
cat "$SERVER_LOG.out" >&2

NICK="${USER:-guest}"
[[ "$NICK" =~ ^[A-Za-z] ]] || NICK="guest"
if [[ "$client" == gui ]]; then
  echo "==== demo.sh: opening the Qt client (qaio-chat) ====" >&2
  "$GUI" --host 127.0.0.1 --port "$PORT" --nick "$NICK" --join '#qaio' "$@"
else
  echo "==== demo.sh: no display: console client (type /help; /quit or Ctrl-D to leave) ====" >&2
  "$CLI" --host 127.0.0.1 --port "$PORT" --nick "$NICK" --join '#qaio' "$@"
fi
