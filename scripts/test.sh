#!/usr/bin/env bash
# test.sh: the whole test suite, exactly as CI runs it (.ci/run calls this script).
#   1. installs the Debian packages (idempotent);
#   2. Debug build (-D_GLIBCXX_ASSERTIONS) into build-test/, then every ctest test;
#   3. lint: clang-format, the crypto/internal boundary, clang-tidy (scripts/lint.sh);
#   4. clang build with AddressSanitizer + UBSan into build-asan/, then every ctest test;
#   5. when clang is present: the libFuzzer differential target (tests/fuzz) built into
#      build-fuzz/ with ASan + UBSan and run for FUZZ_SECONDS (default 30) on a copy of its seeds;
#   6. a smoke run of the benchmarks from a Release build (build/).
# Options: --no-asan, --no-lint, --no-fuzz and --no-bench skip a stage (for quick local runs; CI
# runs all).
# Extra arguments after `--` go to ctest (for example: -- -L crypto).
set -euo pipefail
cd "$(dirname "$0")/.."

asan=1 lint=1 fuzz=1 bench=1
ctest_args=()
while (($#)); do
  case $1 in
    --no-asan) asan=0 ;;
    --no-lint) lint=0 ;;
    --no-fuzz) fuzz=0 ;;
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

if ((fuzz)) && command -v clang++ >/dev/null; then
  stage "libFuzzer differential target (clang, ASan + UBSan)"
  # Only the fuzz target is built here: the tests were built and run by the stages above.
  if [[ ! -f build-fuzz/build.ninja ]]; then
    mkdir -p build-fuzz
    cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEBPUSH_BUILD_BENCH=OFF \
      -DCMAKE_CXX_COMPILER=clang++ -DWEBPUSH_SANITIZE=address,undefined -DWEBPUSH_FUZZ=ON \
      >build-fuzz/configure.log 2>&1 || { cat build-fuzz/configure.log >&2; exit 1; }
  fi
  cmake --build build-fuzz --target batch_differential_fuzzer -- -j"$(nproc)"
  # New inputs go to the first directory (a scratch copy), never into the committed seeds.
  rm -rf build-fuzz/corpus && mkdir -p build-fuzz/corpus
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    build-fuzz/tests/fuzz/batch_differential_fuzzer -max_total_time="${FUZZ_SECONDS:-30}" \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=build-fuzz/ build-fuzz/corpus \
    tests/fuzz/corpus/batch_differential_fuzzer 2>build-fuzz/fuzz.log ||
    { tail -40 build-fuzz/fuzz.log >&2; exit 1; }
  grep -E '^stat::number_of_executed_units' build-fuzz/fuzz.log || true
fi

if ((bench)); then
  stage "benchmark smoke run (Release)"
  bash scripts/build.sh build -DCMAKE_BUILD_TYPE=Release -DWEBPUSH_BUILD_TESTS=OFF \
    -DWEBPUSH_BUILD_BENCH=ON
  build/bench/webpush_bench --benchmark_min_time=0.01 >build/bench-smoke.log
  build/bench/webpush_batch_bench --benchmark_min_time=0.01 >>build/bench-smoke.log
  # The queue benchmarks start and stop their own redis-server.
  build/bench/webpush_queue_bench --benchmark_min_time=0.01 >>build/bench-smoke.log
  build/bench/webpush_p256_bench --benchmark_min_time=0.01 >>build/bench-smoke.log
  echo "benchmarks ran: $(grep -c '^BM_' build/bench-smoke.log) entries"
  # The push client against h2load through nghttpd: a short run keeps the script working.
  python3 bench/run_push_comparison.py --bench build/bench/webpush_push_bench --repetitions 1 \
    --requests 2000 --min-time 0.05 >build/push-comparison-smoke.log
  tail -1 build/push-comparison-smoke.log
fi

stage "done"
echo "test.sh: all stages passed"
