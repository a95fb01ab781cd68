#!/usr/bin/env bash
# run_firefox_push_test.sh WEBPUSHCTL WEBPUSHD [ARGS...]: the ctest entry of the browser test:
# the Node packages (node_modules.sh), then firefox_push_test.mjs.
set -euo pipefail
source "$(dirname "$0")/node_modules.sh"
firefox=${FIREFOX:-/usr/bin/firefox-esr}
[[ -x "$firefox" ]] || { echo "run_firefox_push_test: $firefox is missing (scripts/install-deps.sh installs firefox-esr)" >&2; exit 1; }
ensure_node_modules
exec node "$browser_tests/firefox_push_test.mjs" --webpushctl "$1" --webpushd "$2" --firefox "$firefox" "${@:3}"
