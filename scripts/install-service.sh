#!/usr/bin/env bash
# Install qm as a system service: build (or bring the build up to date),
# install the binary and the units with cmake, create the qm user and its store, and
# enable the service.  Safe to run again: each step leaves what is already
# right as it is, and a running qm is restarted onto the new binary.
#
#   sudo scripts/install-service.sh [--socket] [--no-start] [--prefix DIR] [--build DIR]
#
#   --socket     socket activation: enable qm.socket, and qm starts at the
#                first connection; by default qm.service starts at boot
#   --no-start   install and enable, but start or restart nothing
#   --prefix     install prefix, /usr/local (default) or /usr: systemd reads
#                units, sysusers.d and tmpfiles.d only under those two
#   --build      the build directory (default build/)
#
# Settings: `systemctl edit qm.service` (a drop-in), e.g. Environment=QM_HOST=...
# Logs: journalctl -u qm.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

mode=service
start=1
prefix=/usr/local
build=$top/build
args="$*"
die() { echo "install-service: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case $1 in
    --socket) mode=socket ;;
    --no-start) start=0 ;;
    --prefix) [ $# -ge 2 ] || die "--prefix wants a directory"; prefix=$2; shift ;;
    --build) [ $# -ge 2 ] || die "--build wants a directory"; build=$2; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
prefix=${prefix%/}
case $prefix in
  /usr|/usr/local) ;;
  *) die "--prefix $prefix: systemd finds units only under /usr and /usr/local" ;;
esac

# Refuse before touching anything.
[ "$(id -u)" -eq 0 ] || die "must be run as root: sudo $0 $args"
command -v systemctl >/dev/null || die "systemctl not found: this system does not use systemd"
# sd_booted(): /run/systemd/system exists only when systemd is PID 1
[ -d /run/systemd/system ] && systemctl show --property=Version >/dev/null 2>&1 ||
  die "systemd is not running here (a container without systemd?): systemctl cannot manage services"
for tool in systemd-sysusers systemd-tmpfiles cmake; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/setup.sh installs what qm needs)"
done

if [ ! -f "$build/CMakeCache.txt" ]; then
  echo "install-service: configuring a build in $build"
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release
fi
# a no-op when the build is current; cmake --install would take a stale qm
cmake --build "$build" -j"$(nproc)" --target qm
cmake --install "$build" --prefix "$prefix"

systemd-sysusers "$prefix/lib/sysusers.d/qm.conf"
systemd-tmpfiles --create "$prefix/lib/tmpfiles.d/qm.conf"
systemctl daemon-reload

if [ "$mode" = socket ]; then
  # qm.service running on its own holds the port qm.socket must bind
  systemctl disable qm.service 2>/dev/null || true
  [ "$start" -eq 0 ] || systemctl stop qm.service
  systemctl enable qm.socket
  [ "$start" -eq 0 ] || systemctl restart qm.socket
  unit=qm.socket
else
  systemctl disable qm.socket 2>/dev/null || true
  [ "$start" -eq 0 ] || systemctl stop qm.socket
  systemctl enable qm.service
  [ "$start" -eq 0 ] || systemctl restart qm.service
  unit=qm.service
fi

if [ "$start" -eq 1 ]; then
  systemctl is-active --quiet "$unit" || {
    systemctl status --no-pager "$unit" || true
    die "$unit did not start; see journalctl -u qm"
  }
fi
echo "install-service: $unit enabled$([ "$start" -eq 1 ] && echo " and running")"
echo "  store: /var/lib/qm/models   logs: journalctl -u qm -f   settings: systemctl edit qm.service"
