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

# ensure_node_modules: the npm packages of tests/deploy (scripts/node_packages.sh).
source "$deploy_root/scripts/node_packages.sh"
ensure_node_modules() {
  npm_ci_once "$deploy_tests" kubernetes-models @kubernetes-models/prometheus-operator yaml
}

# kustomizations: the base and every overlay.
kustomizations() {
  echo "$deploy_root/deploy/kubernetes/base"
  for d in "$deploy_root"/deploy/kubernetes/overlays/*/; do
    echo "${d%/}"
  done
}
