#!/usr/bin/env bash
# Scale test, in one command:
#   load-tests/scale.sh                       1, 10, 100, 1000 Workers, router layout
#   load-tests/scale.sh --counts 1,10 --layout sockets -d 3
# Builds isoproxy (release), installs workerd from npm when missing, then runs
# scale.py (`scale.py --help` lists every flag). --no-build skips the build.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# shellcheck source=lib/install.sh
source "$here/lib/install.sh"

build=yes
args=()
for a in "$@"; do
  case "$a" in
    --no-build) build=no ;;
    -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exec python3 "$here/scale.py" --help ;;
    *) args+=("$a") ;;
  esac
done

need_cmd python3 python3 yes
need_cmd wrk wrk yes
need_workerd "$here" || true
if [ "$build" = yes ]; then build_isoproxy "$repo" || true; fi

run_python "$here/scale.py" "${args[@]}"
