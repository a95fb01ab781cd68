#!/usr/bin/env bash
# run_node_tests.sh FILE...: the ctest entry of the Node unit tests (node:test): the Node
# packages (node_modules.sh), then `node --test FILE...`.
set -euo pipefail
source "$(dirname "$0")/node_modules.sh"
ensure_node_modules
exec node --test "$@"
