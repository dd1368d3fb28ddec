#!/usr/bin/env bash
# Install the Debian 12 packages qaio needs, skipping those already installed.
#
#   scripts/install-deps.sh            # build + test dependencies
#   scripts/install-deps.sh bench      # ... plus the benchmark tools
#
# Runs `apt-get update` only when something is missing. Works as root, or via sudo when available.
set -euo pipefail

BASE_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  qt6-base-dev libqt6test6 libgl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 ngircd python3-irc
  clang-14 xvfb xauth procps
)
BENCH_PACKAGES=(
  libuv1-dev libasio-dev python3-uvloop linux-perf hyperfine valgrind
)

usage() {
  echo "usage: $0 [base|bench]..." >&2
  exit 2
}

wanted=("${BASE_PACKAGES[@]}")
for group in "$@"; do
  case "$group" in
    base) ;;
    bench) wanted+=("${BENCH_PACKAGES[@]}") ;;
    -h | --help) usage ;;
    *)
      echo "install-deps: unknown group '$group'" >&2
      usage
      ;;
  esac
done

is_installed() {
  local status
  status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
  [[ "$status" == "install ok installed" ]]
}

missing=()
for pkg in "${wanted[@]}"; do
  if ! is_installed "$pkg"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#wanted[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} missing package(s): ${missing[*]}"

SUDO=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
  else
    echo "install-deps: not root and sudo is not available; install these packages manually:" >&2
    echo "  apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"

still_missing=()
for pkg in "${missing[@]}"; do
  if ! is_installed "$pkg"; then
    still_missing+=("$pkg")
  fi
done
if ((${#still_missing[@]} != 0)); then
  echo "install-deps: still missing after apt-get install: ${still_missing[*]}" >&2
  exit 1
fi
echo "install-deps: installed ${missing[*]}"
