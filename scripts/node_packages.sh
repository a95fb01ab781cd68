# shellcheck shell=bash
# node_packages.sh: sourced by the scripts and ctest entries that need the npm packages of one of
# the project's Node folders (tests/deploy, tests/browser, examples/browser).
#   npm_ci_once DIR PACKAGE...  runs `npm ci` in DIR, from its committed lock file, unless every
#                               PACKAGE is already in DIR/node_modules. It holds a lock
#                               (DIR/.npm-ci.lock) so that parallel ctest runs install once;
#                               npm's output goes to stderr.
npm_ci_once() {
  command -v node >/dev/null 2>&1 || { echo "node is not installed (scripts/install-deps.sh)" >&2; return 127; }
  local dir=$1
  shift
  (
    flock 9
    for package in "$@"; do
      if [[ ! -f "$dir/node_modules/$package/package.json" ]]; then
        npm ci --prefix "$dir" --no-audit --no-fund >&2
        break
      fi
    done
  ) 9>"$dir/.npm-ci.lock"
}
