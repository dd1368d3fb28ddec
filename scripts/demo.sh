#!/usr/bin/env bash
# THE main-job command: install deps, configure + build the `default` preset (target qaio-demo only),
# then run the demo with this script's arguments. Build output goes to stderr so stdout is the demo's.
#
# Environment: QAIO_SKIP_DEPS=1 skips scripts/install-deps.sh.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)
cd "$ROOT"

if [[ "${QAIO_SKIP_DEPS:-0}" != 1 ]]; then
  "$SCRIPT_DIR/install-deps.sh" >&2
fi

{
  echo "==== demo.sh: configure + build qaio-demo (preset default) ===="
  cmake --preset default
  cmake --build --preset default --target qaio-demo
} >&2

DEMO="$ROOT/build/default/examples/qaio-demo"
if [[ ! -x "$DEMO" ]]; then
  echo "demo.sh: $DEMO was not built" >&2
  exit 1
fi
echo "==== demo.sh: running $DEMO $* ====" >&2
exec "$DEMO" "$@"
