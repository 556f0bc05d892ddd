#!/bin/sh
# Makes this checkout ready to run ocirun: system packages, node_modules, build.
# Idempotent and quiet when there is nothing to do; used by `npm run demo`,
# `npm test` and `npm run bench`. Works unattended (CI=true, no stdin, no tty).
set -eu

say() { printf 'ocirun bootstrap: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

cd "$(dirname "$0")/.."

# (a) The bootstrap installs Debian packages and the tests need root (they
# also create the unprivileged user the rootless tests run as). ocirun itself
# then runs for any user (docs/rootless.md).
if [ "$(id -u)" -ne 0 ]; then
  die "the bootstrap needs root (Debian packages; the test suite runs as root); run it again as root (e.g. with sudo)"
fi

log=$(mktemp "${TMPDIR:-/tmp}/ocirun-bootstrap.XXXXXX")
stamp_start=
cleanup() { rm -f "$log" ${stamp_start:+"$stamp_start"}; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs "$@" with its output in $log; shows the log only if it fails.
quietly() {
  if ! "$@" </dev/null >"$log" 2>&1; then
    cat "$log" >&2
    die "failed: $*"
  fi
}

# (b) System packages. dpkg decides what is installed; apt-get update only
# when something has to be installed.
# rapidjson-dev: the init helper parses its JSON plan with it (header-only).
# For rootfs-tools: umoci (the unpack tests' and bench's reference), attr
# (setfattr for layer xattrs) and zstd (zstd layers; Node 20's zlib has none).
# uidmap: newuidmap/newgidmap, through which a user maps its /etc/subuid
# ranges (ocirun and podman without root; the rootless tests make that user).
# containernetworking-plugins and iptables: the CNI bridge, host-local, portmap
# and loopback plugins the CRI tests' containerd gives its pods.
# systemd and dbus: test/vm/run.mjs --systemd boots them as the VM's PID 1 and
# system bus (the systemd cgroup driver and SystemdCgroup = true tests); dbus's
# dbus-daemon and dbus-send also give test/integration/systemd-bus.test.ts a private bus.
packages="build-essential python3 libc6-dev busybox-static runc iproute2 libseccomp-dev rapidjson-dev podman conmon catatonit containerd umoci attr zstd qemu-system-x86 linux-image-amd64 xz-utils uidmap containernetworking-plugins iptables systemd dbus"
if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  need=
  for p in $packages; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case $status in
      *" ok installed") ;;
      *) need="$need $p" ;;
    esac
  done
  if [ -n "$need" ]; then
    say "installing Debian packages:$need"
    export DEBIAN_FRONTEND=noninteractive
    quietly apt-get -q -o DPkg::Lock::Timeout=300 update
    # shellcheck disable=SC2086 # word splitting of $need is intended
    quietly apt-get -q -y -o DPkg::Lock::Timeout=300 install --no-install-recommends $need
  fi
else
  say "not a Debian/Ubuntu system (no apt-get): make sure the equivalents of these are installed: $packages"
fi

# node-gyp downloads Node's headers from nodejs.org unless told where they
# are. Point it at the installed ones (nodesource's nodejs ships them in
# /usr/include/node, official tarballs in <prefix>/include/node).
if [ -z "${npm_config_nodedir:-}" ]; then
  node_prefix=$(dirname "$(dirname "$(command -v node)")")
  if [ -f "$node_prefix/include/node/node_api.h" ] && [ -f "$node_prefix/include/node/common.gypi" ]; then
    npm_config_nodedir=$node_prefix
    export npm_config_nodedir
  fi
fi

# The build is current when it finished after every source change. The stamp
# gets the time the last build started, so edits made during a build count.
stamp=build/.ocirun-bootstrap-stamp
begin_build() {
  stamp_start=$(mktemp "${TMPDIR:-/tmp}/ocirun-stamp.XXXXXX")
}
end_build() {
  mkdir -p build
  touch -r "$stamp_start" "$stamp"
  rm -f "$stamp_start"
  stamp_start=
}

# (c) Dependencies. npm ci also builds: the install script runs the toolchain
# check and node-gyp rebuild, prepare runs tsc.
lock_marker=node_modules/.package-lock.json
if [ ! -d node_modules ] || [ ! -f "$lock_marker" ] || [ -n "$(find package-lock.json -newer "$lock_marker" 2>/dev/null)" ]; then
  if [ ! -d node_modules ]; then say "npm ci (no node_modules yet)"; else say "npm ci (package-lock.json changed)"; fi
  begin_build
  quietly npm ci --no-audit --no-fund
  end_build
fi

# (d) Build outputs: missing, or older than a source file.
outputs="build/Release/ocirun_native.node build/Release/ocirun-init build/Release/ocirun dist/cli/main.js rootfs-tools/dist/unpack.js"
sources=
for s in native src binding.gyp tsconfig.json rootfs-tools/src rootfs-tools/tsconfig.json; do
  [ -e "$s" ] && sources="$sources $s"
done

stale=
for o in $outputs; do
  [ -e "$o" ] || { stale="$o is missing"; break; }
done
if [ -z "$stale" ]; then
  # With a stamp from a previous bootstrap, compare against it: make and tsc do
  # not rewrite outputs whose inputs did not change, so "output older than a
  # source" would otherwise stay true after a successful incremental build.
  if [ -f "$stamp" ]; then refs=$stamp; else refs=$outputs; fi
  for r in $refs; do
    # shellcheck disable=SC2086
    newer=$(find $sources -type f -newer "$r" 2>/dev/null | head -n 1)
    if [ -n "$newer" ]; then stale="$newer changed"; break; fi
  done
fi

if [ -n "$stale" ]; then
  say "npm run build ($stale)"
  begin_build
  # `node-gyp build` needs a configured build/ (npm ci makes one; a manual
  # `rm -rf build` does not leave one).
  if [ ! -f build/config.gypi ] || [ ! -f build/Makefile ]; then
    quietly ./node_modules/.bin/node-gyp configure
  fi
  quietly npm run build
  end_build
fi
