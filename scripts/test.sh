#!/usr/bin/env bash
# THE test command (CI runs it through .ci/run).
#
# Installs missing dependencies, then for each preset: configure, build, ctest. Stops at the first failure.
#
# Environment:
#   QAIO_TEST_PRESETS   presets to run, in order (default: "default asan tsan"; tsan runs the threaded
#                       test targets only), e.g. "default asan tsan clang"
#   QAIO_SKIP_DEPS=1    do not run scripts/install-deps.sh
#   QAIO_CTEST_ARGS     extra arguments for ctest, e.g. "-R conformance -j2"
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)
cd "$ROOT"

export QT_QPA_PLATFORM=offscreen

read -r -a PRESETS <<<"${QAIO_TEST_PRESETS:-default asan tsan}"
TSAN_TARGETS=(qaio_conformance qaio_unit qaio_proc)
read -r -a CTEST_EXTRA <<<"${QAIO_CTEST_ARGS:-}"
if ((${#PRESETS[@]} == 0)); then
  echo "test.sh: QAIO_TEST_PRESETS is empty" >&2
  exit 2
fi

T0=$SECONDS
CURRENT_STAGE="(setup)"

fmt_time() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

banner() {
  CURRENT_STAGE="$*"
  printf '\n==== %s  [%s elapsed] ====\n' "$*" "$(fmt_time $((SECONDS - T0)))"
}

on_exit() {
  local rc=$?
  local total
  total=$(fmt_time $((SECONDS - T0)))
  if ((rc == 0)); then
    printf '\n==== test.sh: PASSED presets: %s  (total %s) ====\n' "${PRESETS[*]}" "$total"
  else
    printf '\n==== test.sh: FAILED at stage: %s (exit %d)  (total %s) ====\n' "$CURRENT_STAGE" "$rc" "$total" >&2
  fi
}
trap on_exit EXIT

if [[ "${QAIO_SKIP_DEPS:-0}" != 1 ]]; then
  banner "dependencies: scripts/install-deps.sh"
  "$SCRIPT_DIR/install-deps.sh"
fi

for preset in "${PRESETS[@]}"; do
  banner "[$preset] configure: cmake --preset $preset"
  cmake --preset "$preset"

  if [[ "$preset" == tsan ]]; then
    # ThreadSanitizer covers the threaded parts: the conformance suite (both loops: thread-safe
    # calls, executor, signals, subprocess watchers), the unit tests and the process tests. The
    # Qt network and GUI tests are left out: Debian's Qt is not TSan-instrumented, so its internal
    # threads (QNetworkAccessManager's) show up as false races.
    banner "[$preset] build: threaded test targets"
    cmake --build --preset "$preset" -j2 --target "${TSAN_TARGETS[@]}"
    banner "[$preset] test: ${TSAN_TARGETS[*]}"
    ctest --preset "$preset" --timeout 600 --output-on-failure \
      -R "^($(IFS='|'; echo "${TSAN_TARGETS[*]}"))\$" "${CTEST_EXTRA[@]}"
    continue
  fi

  banner "[$preset] build: cmake --build --preset $preset -j2"
  cmake --build --preset "$preset" -j2

  banner "[$preset] test: ctest --preset $preset --timeout 600 --output-on-failure"
  ctest --preset "$preset" --timeout 600 --output-on-failure "${CTEST_EXTRA[@]}"
done
