#!/usr/bin/env bash
# install-deps.sh: installs every Debian 12 package the project needs to build, test,
# lint and benchmark. Idempotent: packages already present are skipped, and
# `apt-get update` runs at most once per machine boot of this script (only when
# something is missing).
set -euo pipefail

packages=(
  # toolchain and build
  build-essential cmake ninja-build pkg-config git ca-certificates
  clang clang-format clang-tidy llvm
  # libraries (architecture.md, "Dependencies")
  libssl-dev libabsl-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc grpc-proto
  libnghttp2-dev libhiredis-dev prometheus-cpp-dev libasio-dev
  libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-cryptography
  redis-server valgrind
  nghttp2-server nghttp2-client
  nodejs npm
  # deploy/ checks (tests/deploy): YAML lint, promtool (Debian's prometheus package), PyYAML
  yamllint prometheus python3-yaml
  # the browser test (tests/browser): headless Firefox ESR, and openssl for the relay's certificate
  firefox-esr openssl
)

# kubectl renders the kustomizations of deploy/kubernetes (tests/deploy/check_manifests.sh). One
# from any origin will do; without one, Debian's kubernetes-client provides it.
if ! command -v kubectl >/dev/null 2>&1; then
  packages+=(kubernetes-client)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# nodejs from another origin may already provide npm; do not fight it.
if command -v npm >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do [[ "$p" == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]}")
fi

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
