#!/usr/bin/env bash
# build.sh DIR [cmake options...]: configures (first time) and builds the project into DIR with
# Ninja. Used by setup.sh, test.sh and the benchmark scripts so that every build is made the same
# way.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1
shift
if [[ ! -f "$dir/build.ninja" ]]; then
  mkdir -p "$dir"
  cmake -S . -B "$dir" -G Ninja "$@" >"$dir/configure.log" 2>&1 || {
    cat "$dir/configure.log" >&2
    exit 1
  }
else
  cmake "$dir" "$@" >/dev/null
fi
cmake --build "$dir" -- -j"$(nproc)"
