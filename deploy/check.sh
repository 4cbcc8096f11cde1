#!/usr/bin/env bash
# Checks the files in deploy/ without a cluster, a container engine or systemd
# running:
#   1. systemd units: `systemd-analyze verify` (with a stand-in binary at the
#      ExecStart path) when systemd-analyze is installed;
#   2. Kubernetes manifests against the API schemas: kubeconform when on PATH,
#      else kubernetes-validate (PyPI, installed into a cache venv), at the
#      newest and at an older Kubernetes version; yamllint when available;
#   3. always: every YAML document parsed (PyYAML) and checked by check_k8s.py
#      (kinds, apiVersions, required fields, selectors that match, probes,
#      drain and grace periods, non-root, read-only root fs);
#   4. the ConfigMap's config with `isoproxy check`, when a binary is built;
#   5. the Containerfile's structure and that its README builds it the same way.
# Exit status 0 only if every check that could run passed; a check that could
# not run (tool not installable) is reported as skipped.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
k8s="$here/kubernetes"
failed=0
skipped=()

say() { printf '%s\n' "$*"; }
fail() { say "FAIL: $*"; failed=1; }

# --- 1. systemd --------------------------------------------------------------
if command -v systemd-analyze >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  mkdir -p "$tmp/bin"
  printf '#!/bin/sh\nexit 0\n' >"$tmp/bin/isoproxy"
  chmod +x "$tmp/bin/isoproxy"
  for u in isoproxy.service isoproxy.socket; do
    sed "s#/usr/local/bin/isoproxy#$tmp/bin/isoproxy#g" "$here/systemd/$u" >"$tmp/$u"
  done
  if out=$(systemd-analyze verify --man=no "$tmp/isoproxy.socket" "$tmp/isoproxy.service" 2>&1) && [ -z "$out" ]; then
    say "ok: systemd-analyze verify isoproxy.socket isoproxy.service"
  else
    fail "systemd-analyze verify: $out"
  fi
  score=$(systemd-analyze security --offline=yes "$tmp/isoproxy.service" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: //p')
  [ -n "$score" ] && say "info: systemd-analyze security: exposure $score"
  rm -rf "$tmp"
else
  skipped+=("systemd-analyze not installed (apt-get install systemd)")
fi
# The units' contract with isoproxy, checked whatever the tool.
grep -q '^ExecStart=.* -S http=3 -S https=4' "$here/systemd/isoproxy.service" ||
  fail "isoproxy.service: ExecStart must pass -S http=3 -S https=4"
[ "$(grep -c '^ListenStream=' "$here/systemd/isoproxy.socket")" = 2 ] ||
  fail "isoproxy.socket: expected two ListenStream= lines"
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\?$/\1/p' "$here/systemd/isoproxy.service")
[ -n "$stop" ] && [ "$stop" -gt 30 ] || fail "isoproxy.service: TimeoutStopSec must exceed the 30 s drain"

# --- 2. Kubernetes schemas -----------------------------------------------------
manifests=()
for f in "$k8s"/*.yaml; do
  [ "$(basename "$f")" = kustomization.yaml ] || manifests+=("$f")
done

venv=${ISOPROXY_CHECK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/isoproxy-deploy-check}
py_tool() {
  # py_tool NAME PACKAGE: path of NAME, installing PACKAGE into the venv.
  local name=$1 pkg=$2
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  if [ ! -x "$venv/bin/$name" ]; then
    say "setup: installing $pkg (PyPI) into $venv" >&2
    { [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"; } >/dev/null 2>&1 &&
      "$venv/bin/pip" install -q "$pkg" >/dev/null 2>&1
  fi
  [ -x "$venv/bin/$name" ] && echo "$venv/bin/$name"
}

if command -v kubeconform >/dev/null 2>&1; then
  if kubeconform -strict -summary "${manifests[@]}"; then
    say "ok: kubeconform -strict"
  else
    fail "kubeconform"
  fi
elif kv=$(py_tool kubernetes-validate kubernetes-validate); then
  for ver in "" 1.29.0; do
    if out=$("$kv" --strict --quiet ${ver:+-k "$ver"} "${manifests[@]}" 2>&1); then
      say "ok: kubernetes-validate --strict${ver:+ -k $ver} ($("$kv" --version 2>&1))"
    else
      fail "kubernetes-validate${ver:+ -k $ver}: $out"
    fi
  done
else
  skipped+=("schema validation: neither kubeconform nor kubernetes-validate could be installed")
fi

if yl=$(py_tool yamllint yamllint); then
  if out=$("$yl" -s -d '{extends: default, rules: {line-length: {max: 140}, document-start: disable}}' "$k8s" 2>&1); then
    say "ok: yamllint"
  else
    fail "yamllint: $out"
  fi
else
  skipped+=("yamllint could not be installed")
fi

# --- 3. structure ----------------------------------------------------------------
pyyaml_python=python3
if ! python3 -c 'import yaml' 2>/dev/null; then
  if [ -x "$venv/bin/python3" ] && "$venv/bin/python3" -c 'import yaml' 2>/dev/null; then
    pyyaml_python="$venv/bin/python3"
  elif py_tool yamllint yamllint >/dev/null; then
    pyyaml_python="$venv/bin/python3" # yamllint depends on PyYAML
  fi
fi
if "$pyyaml_python" "$here/check_k8s.py" "$k8s"; then
  say "ok: check_k8s.py (structure and cross-references)"
else
  fail "check_k8s.py"
fi

# --- 4. the ConfigMap's config ----------------------------------------------------
bin=${ISOPROXY_BIN:-}
for c in "$repo/target/release/isoproxy" "$repo/target/debug/isoproxy"; do
  [ -z "$bin" ] && [ -x "$c" ] && bin=$c
done
if [ -n "$bin" ]; then
  tmp=$(mktemp -d)
  "$pyyaml_python" "$here/check_k8s.py" --extract-config "$k8s/configmap.yaml" "$tmp"
  if out=$("$bin" check "$tmp/config.capnp" 2>&1); then
    say "ok: isoproxy check (ConfigMap config.capnp)"
  elif grep -q "not built yet" <<<"$out"; then
    skipped+=("isoproxy check: the config loader is not built yet ($bin)")
  else
    fail "isoproxy check of the ConfigMap's config: $out"
  fi
  rm -rf "$tmp"
else
  skipped+=("isoproxy check of the ConfigMap's config: no isoproxy binary built")
fi

# --- 5. Containerfile -----------------------------------------------------------
if python3 "$here/check_k8s.py" --containerfile "$here/container/Containerfile" "$here/container/README.md"; then
  say "ok: Containerfile structure and README build commands"
else
  fail "Containerfile"
fi

for s in "${skipped[@]}"; do say "skipped: $s"; done
if [ "$failed" = 0 ]; then say "deploy/check.sh: all checks that ran passed"; else say "deploy/check.sh: FAILED"; fi
exit "$failed"
