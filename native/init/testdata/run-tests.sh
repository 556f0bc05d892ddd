#!/bin/bash
# Manual end-to-end checks for ocirun-init (root only; not run by CI).
#   bash native/init/testdata/run-tests.sh [path/to/ocirun-init]
# Builds a busybox rootfs in a temp dir, runs each scenario through driver.cc
# and prints what the container printed. Everything is removed on exit; mounts
# live in private mount namespaces and die with the containers.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
HELPER=${1:-$HERE/../../../build/Release/ocirun-init}
DRIVER=$(mktemp /tmp/ocirun-driver.XXXXXX)
T=$(mktemp -d /tmp/ocirun-test.XXXXXX)
BG=()
cleanup() {
  for p in "${BG[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$T" "$DRIVER" /tmp/ocirun-escape-a /tmp/ocirun-escape-b
}
trap cleanup EXIT
g++ -std=c++20 -O1 -o "$DRIVER" "$HERE/driver.cc" || exit 1
# The container's root (host uid 100000 in the userns case) must be able to
# search every ancestor of the rootfs, as with runc.
chmod 0711 "$T"

mkdir -p "$T"/r/{bin,proc,dev,etc,tmp,sys,mnt}
cp /usr/bin/busybox "$T/r/bin/"
for a in sh ls cat id hostname ip mount ps echo true sleep wc grep touch awk; do ln -s busybox "$T/r/bin/$a"; done
cp -a "$T/r" "$T/ru" && chown -R 100000:100000 "$T/ru"
cp -a "$T/r" "$T/rnull" && ln -s /proc/sys/kernel/core_pattern "$T/rnull/dev/null"
ln -s ../../../../tmp/ocirun-escape-a "$T/r/mnt/link"
ln -s /tmp/ocirun-escape-b "$T/r/mnt/abs"
printf 'garbage' > "$T/r/bin/bad" && chmod 755 "$T/r/bin/bad"
mkdir -p /tmp/ocirun-escape-a /tmp/ocirun-escape-b
touch /tmp/ocirun-escape-a/host-marker /tmp/ocirun-escape-b/host-marker

# run <title> <scenario> <rootfs> [-- args...]; env passes through to plan and driver.
run() {
  local title=$1 scenario=$2 rootfs=$3; shift 3
  local state="$T/state-$scenario-$RANDOM"
  mkdir -m 0711 "$state" && mkfifo -m 0622 "$state/exec.fifo"
  # runc chowns the fifo to the container's root; do the same for userns.
  [ "$rootfs" = "$T/ru" ] && chown 100000:100000 "$state/exec.fifo"
  echo "=== $title"
  node "$HERE/run-plan.mjs" "$scenario" "$rootfs" "$state" "$T/plan" "$@" || return
  timeout 30 "$DRIVER" "$HELPER" "$T/plan" "$state" ${EXTRA_FDS:-} 2>&1
}

MI_BEFORE=$(wc -l < /proc/self/mountinfo)
run "(a) new pid/mnt/uts/ipc/net" basic "$T/r" -- sh -c 'echo pid=$$; hostname; ls /; cat /proc/self/mountinfo | wc -l; ip link'
DRIVER_MEMFD=1 DRIVER_BEFORE_START='grep VmRSS /proc/$INIT_PID/status' \
  DRIVER_AFTER_START='sleep 0.5; ps -o pid,uid,gid,comm -p $INIT_PID' \
  run "(b)+(h) user namespace 0->100000, D_BIND devices, exec from memfd" userns "$T/ru" -- \
  sh -c 'id; cat /proc/self/uid_map; ls -l /dev/null; echo x > /dev/null && echo /dev/null-writable; sleep 1.5'
run "(c) mount destinations through symlinks leaving the rootfs" escape "$T/r" -- \
  sh -c 'ls -l /mnt; grep ocirun-escape /proc/self/mountinfo; touch /mnt/abs/data/x'
echo "host side after (c):"; ls -A /tmp/ocirun-escape-a /tmp/ocirun-escape-b
echo "rootfs side after (c):"; ls -d "$T"/r/tmp/ocirun-escape-*/*
run "(c') same plan again: targets exist now, openat2 fast path" escape "$T/r" -- sh -c 'grep ocirun-escape /proc/self/mountinfo'
run "(d1) args[0] not in PATH" basic "$T/r" -- no-such-binary
run "(d2) args[0] path missing" basic "$T/r" -- /bin/nope
run "(d3) bind source missing" badbind "$T/r"
run "(d4) exec fails after start (exit 127)" basic "$T/r" -- bad
EXTRA_FDS="/etc/hostname /etc/passwd" run "(e) fds inside (helper fds 4,5 passed as extras)" basic "$T/r" -- ls -l /proc/self/fd
run "(e') fds inside, no extras" basic "$T/r" -- ls -l /proc/self/fd
run "(g) capabilities CHOWN|KILL" caps "$T/r" -- grep Cap /proc/self/status
run "time ns, sysctl, ro rootfs, uid/gid/groups, umask, nnp, rlimit, oom, cwd creation" extras "$T/r" -- \
  sh -c 'echo ip_forward=$(cat /proc/sys/net/ipv4/ip_forward) uptime=$(cat /proc/uptime); echo nofile=$(ulimit -n)/$(ulimit -Hn) oom=$(cat /proc/self/oom_score_adj); id; pwd; umask; grep -E "NoNewPrivs|CapEff" /proc/self/status; touch /rootfile'
echo "host uptime: $(cat /proc/uptime)"
run "no_pivot (MS_MOVE + chroot)" nopivot "$T/r" -- sh -c 'echo pid=$$; ls /'
ROOT_PROP=$((0x100000 | 0x4000)) run "root propagation MS_SHARED|MS_REC (parent made private)" basic "$T/r" -- sh -c 'head -1 /proc/self/mountinfo'
run "masking with a hostile /dev/null (CVE-2025-31133)" badnull "$T/rnull"
BAD_MAP=1 run "uid map write fails after clone3 (init killed)" userns "$T/ru"
DRIVER_DELETE=1 run "delete before start" basic "$T/r" -- echo must-not-run

# Joining: a second container joins the first one's network namespace.
st="$T/state-long"; mkdir -m 0711 "$st" && mkfifo -m 0622 "$st/exec.fifo"
node "$HERE/run-plan.mjs" basic "$T/r" "$st" "$T/long.plan" -- sleep 3
DRIVER_AFTER_START="echo \$INIT_PID > $T/long.pid" timeout 30 "$DRIVER" "$HELPER" "$T/long.plan" "$st" > "$T/long.out" 2>&1 &
BG+=($!)
for _ in $(seq 50); do [ -s "$T/long.pid" ] && break; sleep 0.1; done
P=$(cat "$T/long.pid")
echo "first container net ns: $(readlink /proc/$P/ns/net)"
JOIN_NET=/proc/$P/ns/net run "join the first container's net namespace" caps "$T/r" -- ls -l /proc/self/ns/net
wait "${BG[@]}"; BG=()

MI_AFTER=$(wc -l < /proc/self/mountinfo)
echo "=== (f) host mountinfo lines before=$MI_BEFORE after=$MI_AFTER"
