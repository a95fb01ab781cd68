#!/usr/bin/env bash
# check_dockerfile.sh [DOCKERFILE]: offline checks of deploy/Dockerfile (no Docker needed):
#   - every COPY source from the build context exists in the repository and is not excluded by
#     .dockerignore; every COPY --from=build source is a binary the build step produces;
#   - the build stage runs exactly the CI scripts: `bash scripts/install-deps.sh` and
#     `bash scripts/build.sh build <options>`, with options that CMakeLists.txt defines;
#   - every scripts/* path it names exists;
#   - the image runs as a non-root USER, EXPOSEs 50051 and 9464, its HEALTHCHECK tool is
#     installed, and its ENTRYPOINT is a copied binary;
#   - when apt has package lists, every runtime package exists in the archive.
# Prints one line per failure and exits 1 on any.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dockerfile=${1:-$root/deploy/Dockerfile}
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

[[ -f $dockerfile ]] || { echo "FAIL: no $dockerfile"; exit 1; }
# Instructions, one per line: continuation lines joined, comments and blank lines dropped.
mapfile -t instr < <(sed -e '/^[[:space:]]*#/d' "$dockerfile" |
  awk '{ if (sub(/\\[[:space:]]*$/, "")) { buf = buf $0 " " } else { print buf $0; buf = "" } }' |
  sed -e 's/[[:space:]]\+/ /g' -e 's/^ //' -e '/^$/d')

stage="" build_dir="" copied_bins=() runtime_pkgs=() saw_install=0 saw_build=0 user="" expose=""
health="" entry=""
for line in "${instr[@]}"; do
  read -r op rest <<<"$line"
  case ${op^^} in
    FROM)
      stage=$(sed -n 's/.* [Aa][Ss] \([^ ]*\)$/\1/p' <<<"$rest")
      [[ $rest == debian:12* ]] || fail "FROM $rest: not debian:12 / debian:12-slim" ;;
    COPY)
      from="" args=()
      for w in $rest; do
        case $w in
          --from=*) from=${w#--from=} ;;
          --*) ;;
          *) args+=("$w") ;;
        esac
      done
      dest=${args[-1]}
      unset 'args[-1]'
      for src in "${args[@]}"; do
        if [[ -z $from ]]; then
          [[ $src == . ]] && continue
          [[ -e $root/$src ]] || fail "COPY $src: no such file in the repository"
          if [[ -f $root/.dockerignore ]]; then
            while read -r pat; do
              [[ -z $pat || $pat == \#* ]] && continue
              pat=${pat%/}
              # shellcheck disable=SC2053
              [[ $src == $pat || $src == $pat/* ]] && fail "COPY $src: excluded by .dockerignore ($pat)"
            done <"$root/.dockerignore"
          fi
        else
          [[ $from == build ]] || fail "COPY --from=$from: unknown stage"
          rel=${src#/src/}
          [[ -n $build_dir && $rel == "$build_dir"/dispatcher/* ]] ||
            fail "COPY --from=build $src: not under the build directory $build_dir/ of scripts/build.sh"
          bin=${rel##*/}
          grep -Eq "add_executable\(\s*$bin\b" "$root/dispatcher/CMakeLists.txt" ||
            fail "COPY --from=build $src: dispatcher/CMakeLists.txt builds no executable $bin"
          copied_bins+=("${dest%/}/$bin")
        fi
      done ;;
    RUN)
      for s in $(grep -o 'scripts/[A-Za-z0-9_./-]*' <<<"$rest" || true); do
        [[ -f $root/$s ]] || fail "RUN names $s, which does not exist"
      done
      if [[ $stage == build ]]; then
        if [[ $rest == *install-deps.sh* ]]; then
          [[ $rest == "bash scripts/install-deps.sh"* ]] ||
            fail "RUN $rest: the build stage must run 'bash scripts/install-deps.sh'"
          saw_install=1
        fi
        if [[ $rest == *build.sh* ]]; then
          read -r -a w <<<"$rest"
          [[ ${w[0]} == bash && ${w[1]} == scripts/build.sh && -n ${w[2]:-} ]] ||
            fail "RUN $rest: the build stage must run 'bash scripts/build.sh DIR OPTIONS'"
          build_dir=${w[2]}
          opts="${w[*]:3}"
          want="-DCMAKE_BUILD_TYPE=Release -DWEBPUSH_BUILD_TESTS=OFF -DWEBPUSH_BUILD_BENCH=OFF"
          [[ $opts == "$want" ]] || fail "scripts/build.sh options are '$opts', expected '$want'"
          for o in "${w[@]:3}"; do
            v=${o#-D}
            v=${v%%=*}
            [[ $v == CMAKE_* ]] && continue
            grep -q "option($v " "$root/CMakeLists.txt" || fail "build option $v: not in CMakeLists.txt"
          done
          saw_build=1
        fi
      else
        if [[ $rest == *"apt-get install"* ]]; then
          for p in $(sed 's/.*apt-get install//; s/&&.*//' <<<"$rest"); do
            [[ $p == -* ]] || runtime_pkgs+=("$p")
          done
        fi
      fi ;;
    USER) user=$rest ;;
    EXPOSE) expose=$rest ;;
    HEALTHCHECK) health=$rest ;;
    ENTRYPOINT) entry=$rest ;;
  esac
done

((saw_install)) || fail "the build stage does not run scripts/install-deps.sh"
((saw_build)) || fail "the build stage does not run scripts/build.sh"
[[ -n $user && ${user%%:*} != 0 && ${user%%:*} != root ]] || fail "USER '$user': must be non-root"
for p in 50051 9464; do
  [[ " $expose " == *" $p "* ]] || fail "EXPOSE '$expose' lacks $p"
done
tool=$(grep -o 'CMD \["[^"]*"' <<<"$health" | sed 's/CMD \["//; s/"$//' || true)
if [[ -z $tool ]]; then
  fail "HEALTHCHECK '$health': expected exec form CMD [\"/usr/bin/TOOL\", ...]"
elif [[ $tool == /usr/bin/curl ]]; then
  [[ " ${runtime_pkgs[*]} " == *" curl "* ]] || fail "HEALTHCHECK uses curl, which is not installed"
fi
ep=$(sed -n 's/^\["\([^"]*\)".*/\1/p' <<<"$entry")
[[ " ${copied_bins[*]} " == *" $ep "* ]] || fail "ENTRYPOINT '$entry' is not a copied binary (${copied_bins[*]})"

if ((${#runtime_pkgs[@]} == 0)); then
  fail "the runtime stage installs no packages"
elif command -v apt-cache >/dev/null && apt-cache show libc6 >/dev/null 2>&1; then
  # One call for all (fast); apt-cache skips unknown names silently when others are found, so
  # compare the Package: names it printed.
  found=$(apt-cache show --no-all-versions "${runtime_pkgs[@]}" 2>/dev/null | sed -n 's/^Package: //p')
  for p in "${runtime_pkgs[@]}"; do
    grep -qxF "$p" <<<"$found" || fail "runtime package $p: not in the archive"
  done
else
  echo "note: no apt package lists; runtime package names not checked"
fi

if ((fails)); then
  echo "check_dockerfile: $fails problem(s) in $dockerfile"
  exit 1
fi
echo "check_dockerfile: ok ($dockerfile: build stage runs install-deps.sh and build.sh;" \
  "${#runtime_pkgs[@]} runtime packages; binaries ${copied_bins[*]})"
