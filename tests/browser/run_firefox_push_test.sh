#!/usr/bin/env bash
# run_firefox_push_test.sh WEBPUSHCTL WEBPUSHD [ARGS...]: the ctest entry of the browser test.
# Installs the Node packages of the test (puppeteer-core, ws) and of the example app
# (@grpc/grpc-js, @grpc/proto-loader) from their lock files when missing, under a lock so that
# parallel ctest runs install once, then runs firefox_push_test.mjs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
firefox=${FIREFOX:-/usr/bin/firefox-esr}
[[ -x "$firefox" ]] || { echo "run_firefox_push_test: $firefox is missing (scripts/install-deps.sh installs firefox-esr)" >&2; exit 1; }
command -v node >/dev/null || { echo "run_firefox_push_test: node is missing (scripts/install-deps.sh)" >&2; exit 1; }
(
  flock 9
  if [[ ! -f "$here/node_modules/puppeteer-core/package.json" || ! -f "$here/node_modules/ws/package.json" ]]; then
    # Puppeteer must not download a browser of its own: the test drives Debian's Firefox ESR.
    PUPPETEER_SKIP_DOWNLOAD=1 npm ci --prefix "$here" --no-audit --no-fund >&2
  fi
  if [[ ! -f "$root/examples/browser/node_modules/@grpc/grpc-js/package.json" ]]; then
    npm ci --prefix "$root/examples/browser" --no-audit --no-fund >&2
  fi
) 9>"$here/.npm-ci.lock"
exec node "$here/firefox_push_test.mjs" --webpushctl "$1" --webpushd "$2" --firefox "$firefox" "${@:3}"
