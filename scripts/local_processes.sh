# shellcheck shell=bash
# local_processes.sh: sourced by the scripts that start local services in the background
# (scripts/demo.sh, examples/browser/run_local.sh). Set `script_name` first; it names the script
# in failure messages. Provides:
#   work       a temporary folder, removed on exit
#   pids       add each background process's PID (pids+=($!)); all are stopped on exit, the
#              last started first
#   wait_for FILE PATTERN WHAT   waits (bounded, 30 s) for a line matching PATTERN in FILE,
#                                else prints FILE and exits 1
#   free_port  prints a free TCP port on 127.0.0.1
#   random_token FILE            writes a random API token to FILE (mode 600)
#   start_webpushd BIN CONFIG [ARGS...]
#                                starts webpushd in the background (log $work/webpushd.log),
#                                waits for its gRPC port and sets webpushd_port to it
work=$(mktemp -d)
pids=()
# Last started first, each waited for: webpushd drains into a redis-server that is still up
# (stopped together, it spent some 30 s retrying the queue after Ctrl-C).
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    if kill "${pids[i]}" 2>/dev/null; then wait "${pids[i]}" 2>/dev/null || true; fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

wait_for() {
  for _ in $(seq 1 300); do
    if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "${script_name:-script}: FAILED, $3 did not start:" >&2
  cat "$1" >&2
  exit 1
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

random_token() {
  (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"$1")
}

start_webpushd() {
  "$1" --config "$2" "${@:3}" >"$work/webpushd.log" 2>&1 &
  pids+=($!)
  wait_for "$work/webpushd.log" "serving gRPC on port" "webpushd"
  # shellcheck disable=SC2034 # read by the scripts that source this file
  webpushd_port=$(sed -n 's/.*serving gRPC on port \([0-9]*\).*/\1/p' "$work/webpushd.log" | head -1)
}
