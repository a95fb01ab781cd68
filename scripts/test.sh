#!/usr/bin/env bash
# test.sh: the whole test suite, exactly as CI runs it (.ci/run calls this script).
#   1. installs the Debian packages (idempotent);
#   2. Debug build (-D_GLIBCXX_ASSERTIONS) into build-test/, then every ctest test;
#   3. lint: clang-format, the crypto/internal boundary, clang-tidy (scripts/lint.sh);
#   4. clang build with AddressSanitizer + UBSan into build-asan/, then every ctest test;
#   5. a smoke run of the benchmarks from a Release build (build/).
# Options: --no-asan, --no-lint and --no-bench skip a stage (for quick local runs; CI runs all).
# Extra arguments after `--` go to ctest (for example: -- -L crypto).
set -euo pipefail
cd "$(dirname "$0")/.."

asan=1 lint=1 bench=1
ctest_args=()
while (($#)); do
  case $1 in
    --no-asan) asan=0 ;;
    --no-lint) lint=0 ;;
    --no-bench) bench=0 ;;
    --) shift; ctest_args=("$@"); break ;;
    *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

stage() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

stage "dependencies"
bash scripts/install-deps.sh

stage "Debug build"
bash scripts/build.sh build-test -DCMAKE_BUILD_TYPE=Debug -DWEBPUSH_BUILD_BENCH=OFF
stage "tests (Debug)"
(cd build-test && ctest --output-on-failure -j"$(nproc)" "${ctest_args[@]}")

if ((lint)); then
  stage "lint"
  bash scripts/lint.sh build-test
fi

if ((asan)); then
  stage "AddressSanitizer + UBSan build (clang)"
  bash scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DWEBPUSH_BUILD_BENCH=OFF \
    -DCMAKE_CXX_COMPILER=clang++ -DWEBPUSH_SANITIZE=address,undefined
  stage "tests (ASan + UBSan)"
  # Options from Envoy's .bazelrc (style.md §11).
  (cd build-asan &&
    ASAN_OPTIONS=check_initialization_order=1:strict_init_order=1:detect_odr_violation=1:detect_leaks=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --output-on-failure -j"$(nproc)" "${ctest_args[@]}")
fi

if ((bench)); then
  stage "benchmark smoke run (Release)"
  bash scripts/build.sh build -DCMAKE_BUILD_TYPE=Release -DWEBPUSH_BUILD_TESTS=OFF \
    -DWEBPUSH_BUILD_BENCH=ON
  build/bench/webpush_bench --benchmark_min_time=0.01 >build/bench-smoke.log
  # The queue benchmarks start and stop their own redis-server.
  build/bench/webpush_queue_bench --benchmark_min_time=0.01 >>build/bench-smoke.log
  echo "benchmarks ran: $(grep -c '^BM_' build/bench-smoke.log) entries"
fi

stage "done"
echo "test.sh: all stages passed"
