# Sourced by run.sh and scale.sh: installs what the benchmark needs when it is
# missing, and says so. Nothing here is fatal except a missing wrk or nginx.

_apt_updated=
_apt_install() {
  local sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  if [ -z "$_apt_updated" ]; then
    $sudo apt-get update -qq >/dev/null 2>&1 || true
    _apt_updated=1
  fi
  # RUNLEVEL=1: do not let the package start its system-wide service (the
  # benchmark starts its own instances on loopback ports).
  $sudo env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq "$@" >/dev/null 2>&1
}

# need_cmd CMD PACKAGE REQUIRED(yes|no)
need_cmd() {
  local cmd=$1 pkg=$2 required=$3
  command -v "$cmd" >/dev/null 2>&1 && return 0
  echo "setup: $cmd is missing; installing Debian package $pkg" >&2
  if _apt_install "$pkg" && command -v "$cmd" >/dev/null 2>&1; then
    return 0
  fi
  if [ "$required" = yes ]; then
    echo "setup: could not install $pkg; cannot continue" >&2
    exit 1
  fi
  echo "setup: could not install $pkg; its rows will show an error" >&2
  return 1
}

# need_workerd LOAD_TESTS_DIR: workerd from npm into LOAD_TESTS_DIR/node_modules.
need_workerd() {
  local dir=$1
  if [ -x "$dir/node_modules/@cloudflare/workerd-linux-64/bin/workerd" ] || [ -n "${WORKERD_BIN:-}" ]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup: npm is missing; installing Debian package npm" >&2
    _apt_install npm || true
  fi
  if command -v npm >/dev/null 2>&1; then
    echo "setup: installing workerd with npm into $dir/node_modules" >&2
    (cd "$dir" && npm install --no-save --no-audit --no-fund --loglevel=error workerd >&2) || true
  fi
  if [ -x "$dir/node_modules/@cloudflare/workerd-linux-64/bin/workerd" ]; then
    return 0
  fi
  echo "setup: workerd could not be installed; continuing without it (its rows will show an error)" >&2
  return 1
}

# build_isoproxy REPO_DIR: release build; failure is reported, not fatal.
build_isoproxy() {
  local repo=$1
  local envsh=
  for f in /work/shared/v8/env.sh "$repo/../shared/v8/env.sh"; do
    if [ -f "$f" ]; then envsh=$f; break; fi
  done
  echo "build: cargo build --release -p isoproxy${envsh:+ (after source $envsh)}" >&2
  if (
    cd "$repo"
    # shellcheck disable=SC1090
    [ -n "$envsh" ] && source "$envsh"
    cargo build --release -p isoproxy >&2
  ); then
    return 0
  fi
  echo "build: cargo build --release -p isoproxy FAILED; isoproxy rows will show an error" >&2
  return 1
}

# run_python SCRIPT ARGS...: run a harness script in the background so that
# Ctrl-C or SIGTERM to this shell is passed on to it (it then stops every
# process it started by PID), and exit with its status.
run_python() {
  local script=$1
  shift
  _child=
  _stop_child() {
    if [ -n "$_child" ] && kill -0 "$_child" 2>/dev/null; then
      kill -TERM "$_child" 2>/dev/null || true
      wait "$_child" 2>/dev/null || true
    fi
  }
  trap '_stop_child; exit 130' INT
  trap '_stop_child; exit 143' TERM
  trap _stop_child EXIT
  python3 "$script" "$@" &
  _child=$!
  local status=0
  wait "$_child" || status=$?
  _child=
  exit "$status"
}
