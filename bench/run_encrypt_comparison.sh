#!/usr/bin/env bash
# Encryption throughput of our reference path (BM_Encrypt) next to the Node `web-push` package,
# measured in one run on the same machine, for 100, 1024 and 3993-byte payloads. Prints one table
# of medians; see bench/README.md.
#
# Usage: bench/run_encrypt_comparison.sh        (from anywhere)
#   BUILD_DIR    CMake build directory, Release (default: build-release under the repo root)
#   REPETITIONS  repetitions on both sides (default 5)
#   NODE_ITERATIONS  messages per Node repetition (default 2000)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-build-release}"
case "${build_dir}" in
  /*) ;;
  *) build_dir="${repo}/${build_dir}" ;;
esac
repetitions="${REPETITIONS:-5}"
node_iterations="${NODE_ITERATIONS:-2000}"
out_dir="$(mktemp -d)"
trap 'rm -rf "${out_dir}"' EXIT

# 1. Node dependencies: web-push is pinned in bench/node/package.json. The repository's
#    .gitignore excludes package-lock.json, so `npm ci` only applies when one is present.
if [[ ! -d "${repo}/bench/node/node_modules/web-push" ]]; then
  npm_cmd=install
  if [[ -f "${repo}/bench/node/package-lock.json" ]]; then
    npm_cmd=ci
  fi
  echo "== npm ${npm_cmd} in bench/node" >&2
  (cd "${repo}/bench/node" && npm "${npm_cmd}" --no-audit --no-fund --loglevel=error >&2)
fi

# 2. Release build of webpush_bench. An existing build directory keeps its configuration, so
#    refuse one that is not Release (never benchmark Debug or sanitizer builds, style.md §9).
if [[ ! -f "${build_dir}/CMakeCache.txt" ]]; then
  echo "== configuring ${build_dir} (Release)" >&2
  cmake -S "${repo}" -B "${build_dir}" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DWEBPUSH_BUILD_TESTS=OFF >&2
fi
if ! grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "${build_dir}/CMakeCache.txt" ||
  grep -q '^WEBPUSH_SANITIZE:STRING=..*$' "${build_dir}/CMakeCache.txt"; then
  echo "error: ${build_dir} is not a Release build without sanitizers" >&2
  exit 1
fi
echo "== building webpush_bench in ${build_dir}" >&2
cmake --build "${build_dir}" --target webpush_bench >&2

# 3. Ours, then Node, back to back.
echo "== webpush_bench --benchmark_filter=BM_Encrypt (${repetitions} repetitions)" >&2
"${build_dir}/bench/webpush_bench" --benchmark_filter='BM_Encrypt' \
  --benchmark_repetitions="${repetitions}" --benchmark_report_aggregates_only=true \
  --benchmark_out="${out_dir}/ours.json" --benchmark_out_format=json >&2
echo "== node bench/node/encrypt_bench.js (${repetitions} x ${node_iterations} messages)" >&2
node "${repo}/bench/node/encrypt_bench.js" --json --repetitions "${repetitions}" \
  --iterations "${node_iterations}" >"${out_dir}/node.jsonl"

# 4. One table from this run.
/usr/bin/python3 - "${out_dir}/ours.json" "${out_dir}/node.jsonl" <<'PY'
import json
import statistics
import sys

ours_path, node_path = sys.argv[1], sys.argv[2]
with open(ours_path) as f:
    report = json.load(f)
ours = {}  # size -> {"median": (wall µs, cpu µs), "cv": wall cv}
for b in report["benchmarks"]:
    # Aggregates are named like "BM_Encrypt/bytes:100_median".
    if b.get("run_type") != "aggregate":
        continue
    size = int(b["run_name"].split("bytes:")[1])
    entry = ours.setdefault(size, {})
    if b["aggregate_name"] == "median":
        scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3}[b["time_unit"]]
        entry["median"] = (b["real_time"] * scale, b["cpu_time"] * scale)
    elif b["aggregate_name"] == "cv":
        entry["cv"] = b["real_time"]
node = {}
meta = {}
with open(node_path) as f:
    for line in f:
        r = json.loads(line)
        reps = r["all_us_per_msg"]
        cv = statistics.stdev(reps) / statistics.mean(reps) if len(reps) > 1 else 0.0
        node[r["bytes"]] = (r["us_per_msg"], r["cpu_us_per_msg"], cv)
        meta = r
ctx = report["context"]
print(f"date {ctx['date']}, {ctx['num_cpus']} CPUs at {ctx['mhz_per_cpu']} MHz, "
      f"load average {' '.join(f'{x:.2f}' for x in ctx.get('load_avg', []))}")
print(f"node {meta['node']}, {meta['library']}, node's OpenSSL {meta['openssl']}")
print(f"medians of {report['benchmarks'][0]['repetitions']} repetitions, one thread; wall = "
      "elapsed time, CPU = CPU time (web-push: whole process, GC threads included)")
print()
print("| payload | ours µs/msg | ours msgs/s | ours CPU µs/msg "
      "| web-push µs/msg | web-push msgs/s | web-push CPU µs/msg "
      "| ours/web-push, wall | ours/web-push, CPU |")
print("|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
spread = []
for size in sorted(ours):
    o_wall, o_cpu = ours[size]["median"]
    row = f"| {size} B | {o_wall:.1f} | {1e6 / o_wall:,.0f} | {o_cpu:.1f} "
    if size in node:
        n_wall, n_cpu, n_cv = node[size]
        row += (f"| {n_wall:.1f} | {1e6 / n_wall:,.0f} | {n_cpu:.1f} "
                f"| {n_wall / o_wall:.2f}x | {n_cpu / o_cpu:.2f}x |")
        spread.append(f"{size} B: ours {ours[size].get('cv', 0) * 100:.1f} %, "
                      f"web-push {n_cv * 100:.1f} %")
    else:
        row += "| n/a | n/a | n/a | n/a | n/a |"
    print(row)
print()
print("coefficient of variation of wall time across repetitions: " + "; ".join(spread))
PY
