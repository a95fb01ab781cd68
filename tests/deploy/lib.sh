# shellcheck shell=bash
# lib.sh: helpers sourced by the tests/deploy check scripts.

deploy_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
deploy_tests="$deploy_root/tests/deploy"

# kustomize_render DIR: prints the rendered objects of the kustomization DIR, with `kubectl
# kustomize` (kubectl from any origin; Debian 12's kubernetes-client is kubectl 1.20 with kustomize
# v2, which scripts/install-deps.sh installs when kubectl is absent) or a standalone `kustomize`.
kustomize_render() {
  if command -v kubectl >/dev/null 2>&1; then
    kubectl kustomize "$1"
  elif command -v kustomize >/dev/null 2>&1; then
    kustomize build "$1"
  else
    echo "neither kubectl nor kustomize is installed (scripts/install-deps.sh installs kubernetes-client)" >&2
    return 127
  fi
}

# ensure_node_modules: `npm ci` in tests/deploy when its node_modules is missing (as the Node
# baseline test does for bench/node), under a lock so that parallel ctest runs install once.
ensure_node_modules() {
  command -v node >/dev/null 2>&1 || { echo "node is not installed (scripts/install-deps.sh)" >&2; return 127; }
  (
    flock 9
    if [[ ! -f "$deploy_tests/node_modules/kubernetes-models/package.json" ||
          ! -f "$deploy_tests/node_modules/@kubernetes-models/prometheus-operator/package.json" ||
          ! -f "$deploy_tests/node_modules/yaml/package.json" ]]; then
      npm ci --prefix "$deploy_tests" --no-audit --no-fund >&2
    fi
  ) 9>"$deploy_tests/.npm-ci.lock"
}

# kustomizations: the base and every overlay.
kustomizations() {
  echo "$deploy_root/deploy/kubernetes/base"
  for d in "$deploy_root"/deploy/kubernetes/overlays/*/; do
    echo "${d%/}"
  done
}
