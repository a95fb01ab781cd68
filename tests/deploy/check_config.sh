#!/usr/bin/env bash
# check_config.sh WEBPUSHD [KUSTOMIZATION_DIR...]: renders the base and every overlay (or the given
# directories) and checks the webpushd configuration each would run with (check_config.js):
# `webpushd --check-config` on the ConfigMap plus the container's WEBPUSHD__* variables, the
# termination grace above server.shutdown_grace, ports and probes matching the listen addresses.
set -euo pipefail
# shellcheck source=tests/deploy/lib.sh
source "$(dirname "$0")/lib.sh"
webpushd=${1:?usage: check_config.sh WEBPUSHD [KUSTOMIZATION_DIR...]}
shift
[[ -x $webpushd ]] || { echo "FAIL: $webpushd is not an executable"; exit 1; }
ensure_node_modules
dirs=("$@")
((${#dirs[@]})) || mapfile -t dirs < <(kustomizations)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
files=()
for dir in "${dirs[@]}"; do
  out="$tmp/$(echo "${dir#"$deploy_root"/}" | tr / _).yaml"
  kustomize_render "$dir" >"$out" 2>"$tmp/err" || { cat "$tmp/err"; echo "FAIL: $dir does not render"; exit 1; }
  files+=("$out")
done
node "$deploy_tests/check_config.js" "$webpushd" "${files[@]}"
