#!/usr/bin/env bash
# setup.sh: installs the Debian packages the project needs (idempotent) and builds the release
# binaries into build/: webpushd, webpushctl and the test push service the demo uses.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh build -DCMAKE_BUILD_TYPE=Release -DWEBPUSH_BUILD_TESTS=OFF -DWEBPUSH_BUILD_BENCH=OFF
echo "setup: built $(pwd)/build/dispatcher/webpushd and webpushctl"
