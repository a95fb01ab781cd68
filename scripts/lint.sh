#!/usr/bin/env bash
# lint.sh BUILD_DIR: the lint job (style.md §11). Fails on unformatted code, on an include of
# crypto/internal/ from outside crypto/ (tests/crypto and the P-256 kernel benchmark excepted,
# as BoringSSL's tests and benchmarks do), and on
# any clang-tidy finding in the warnings-as-errors set of .clang-tidy. Public headers compiling
# alone is checked by the build itself (cmake/CheckHeaders.cmake).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-test}
status=0

mapfile -t sources < <(git ls-files -- '*.cc' '*.h' | grep -E '^(crypto|queue|metrics|dispatcher|bench|tests|proto)/')

echo "lint: clang-format on ${#sources[@]} files"
if ! clang-format --dry-run -Werror "${sources[@]}"; then
  echo "lint: FAILED: run clang-format -i on the files above" >&2
  status=1
fi

echo "lint: crypto/internal include boundary"
if grep -nE '#include "crypto/internal/' "${sources[@]}" | grep -vE '^(crypto/|tests/crypto/|bench/p256_batch_benchmark\.cc:)'; then
  echo "lint: FAILED: only crypto/ (and its tests, and bench/p256_batch_benchmark.cc) may include crypto/internal/" >&2
  status=1
fi

echo "lint: clang-tidy (library and tool sources)"
mapfile -t tidy_sources < <(printf '%s\n' "${sources[@]}" | grep -E '^(crypto|queue|metrics|dispatcher)/.*\.cc$')
if [[ ! -f "$build/compile_commands.json" ]]; then
  echo "lint: FAILED: $build/compile_commands.json missing; build first" >&2
  exit 1
fi
if ! run-clang-tidy -quiet -p "$build" -j "$(nproc)" "${tidy_sources[@]}" >"$build/clang-tidy.log" 2>&1; then
  grep -E 'error:|warning:' "$build/clang-tidy.log" | sort -u >&2 || true
  echo "lint: FAILED: clang-tidy (full log: $build/clang-tidy.log)" >&2
  status=1
else
  echo "lint: clang-tidy clean of errors ($(grep -c 'warning:' "$build/clang-tidy.log" || true) advisory warnings)"
fi
exit $status
