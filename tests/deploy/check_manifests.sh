#!/usr/bin/env bash
# check_manifests.sh [KUSTOMIZATION_DIR | MANIFEST.yaml ...]: renders the Kubernetes base and every
# overlay (or the given directories) with kustomize and validates every rendered object offline
# against the Kubernetes OpenAPI schema (validate_k8s.js: unknown kinds and unknown fields fail);
# a given YAML file is validated as it is. Without arguments, also checks that the base's
# PrometheusRule carries exactly deploy/prometheus/alerts.yaml.
# Exits 1 when a directory does not render or an object is invalid.
set -euo pipefail
# shellcheck source=tests/deploy/lib.sh
source "$(dirname "$0")/lib.sh"
ensure_node_modules

dirs=("$@")
if ((${#dirs[@]} == 0)); then
  mapfile -t dirs < <(kustomizations)
  node "$deploy_tests/sync_prometheusrule.js"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
for dir in "${dirs[@]}"; do
  name=${dir#"$deploy_root"/}
  out="$tmp/$(echo "$name" | tr / _).yaml"
  echo "== $name"
  if [[ -f $dir ]]; then
    node "$deploy_tests/validate_k8s.js" "$dir" || fails=$((fails + 1))
    continue
  fi
  # kustomize v5 warns about the v2-compatible fields (bases, patchesStrategicMerge): not errors.
  if ! kustomize_render "$dir" >"$out" 2>"$tmp/err"; then
    cat "$tmp/err"
    echo "FAIL: $name does not render"
    fails=$((fails + 1))
    continue
  fi
  grep -v "^# Warning: '.*' is deprecated" "$tmp/err" >&2 || true
  node "$deploy_tests/validate_k8s.js" "$out" || fails=$((fails + 1))
done
if ((fails)); then
  echo "check_manifests: $fails kustomization(s) or file(s) failed"
  exit 1
fi
echo "check_manifests: ${#dirs[@]} kustomization(s) or file(s) render and validate"
