#!/usr/bin/env bash
# The isoproxy benchmark, in one command:
#   load-tests/run.sh --quick            a few seconds per scenario
#   load-tests/run.sh --full             10 s per scenario
#   load-tests/run.sh --quick -c 64 -t 2 -d 5 --scenarios proxy,passthrough
# Builds isoproxy (release), installs missing peers (nginx, wrk, squid from
# Debian, workerd from npm), then runs bench.py, which starts the origin and
# every peer on loopback ports, checks and measures each, prints the table and
# writes results/bench-*.json and .csv. --no-build skips the cargo build.
# `bench.py --help` lists every flag.
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
    -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exec python3 "$here/bench.py" --help ;;
    *) args+=("$a") ;;
  esac
done

need_cmd python3 python3 yes
need_cmd wrk wrk yes
need_cmd nginx nginx yes
need_cmd squid squid no || true
need_cmd curl curl no || true
need_workerd "$here" || true
if [ "$build" = yes ]; then build_isoproxy "$repo" || true; fi

run_python "$here/bench.py" "${args[@]}"
