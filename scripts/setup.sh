#!/usr/bin/env bash
# Installs everything qm needs to build and test on a fresh Debian 12 machine.
# Idempotent: packages already present are skipped, the virtual environment is
# reused when its requirements have not changed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

debs=(
  build-essential cmake pkg-config git clang llvm
  libuv1-dev libjansson-dev libsystemd-dev node-llhttp
  libcurl4-openssl-dev libpcre2-dev libssl-dev libcmocka-dev libedit-dev
  python3 python3-venv python3-pip unzip ca-certificates
  curl   # scripts/quickstart.sh talks to the daemon with it
  wrk    # bench/daemon_bench.py overhead
  systemd   # systemd-analyze, -socket-activate, -sysusers, -tmpfiles: tests/py/test_systemd.py
)

missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python test dependencies go into a git-ignored virtual environment.
venv="$top/.venv"
req="$top/scripts/requirements-test.txt"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: creating Python environment in $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r "$req"
  echo "$want" > "$stamp"
fi
echo "setup: done"
