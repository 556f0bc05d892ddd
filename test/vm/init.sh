#!/bin/sh
# /init of the test VM's initramfs (built by test/vm/build-image.mjs, run by
# test/vm/run.mjs; see docs/testing-vm.md). Runs under static busybox.
#
# Stage 1 (PID 1 in the initramfs): load the modules, mount the host's / read-only
# (virtiofs or 9p, tag "hostroot") as the lower layer of an overlay whose upper
# layer is a tmpfs, mount the usual API filesystems under it and switch_root.
# Stage 2 (PID 1 in the new root, `init stage2`): mount cgroup2 and enable every
# controller, then run the job (/run/ocirun-vm/job.sh, copied from the host path
# in ocirun.job=) with stdout/stderr on the virtio ports "ocirun.stdout" and
# "ocirun.stderr"; report "start <uptime>" and "exit <status>" on "ocirun.ctl";
# power off.
#
# Kernel command line: ocirun.fs=virtiofs|9p ocirun.mods=base,mmio,virtiofs
# ocirun.job=/host/path/job.sh [ocirun.debug=1]

BB=/bin/busybox
export PATH=/bin
STAGE=${1:-stage1}
CTL=

say() { echo "ocirun-vm init: $*" >/dev/console; }
die() {
  say "FATAL: $*"
  [ -n "$CTL" ] && echo "fail $*" >"$CTL"
  $BB poweroff -f
  sleep 5
  exit 1
}

cmdline_arg() {
  for w in $(cat /proc/cmdline); do
    case $w in "$1"=*) echo "${w#*=}"; return 0 ;; esac
  done
  return 1
}

# /dev/vportNpM of the virtio serial port named $1 (devices show up
# asynchronously after the driver binds; wait a little).
find_port() {
  i=0
  while [ $i -lt 200 ]; do
    for n in /sys/class/virtio-ports/*/name; do
      [ -r "$n" ] || continue
      if [ "$(cat "$n")" = "$1" ]; then
        d=${n%/name}
        d=/dev/${d##*/}
        [ -c "$d" ] && { echo "$d"; return 0; }
      fi
    done
    i=$((i + 1))
    $BB usleep 10000
  done
  return 1
}

stage1() {
  mount -t proc -o nosuid,nodev,noexec proc /proc
  mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
  mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev
  DEBUG=$(cmdline_arg ocirun.debug || true)
  [ -n "$DEBUG" ] && set -x

  fs=$(cmdline_arg ocirun.fs) || die "no ocirun.fs= on the kernel command line"
  job=$(cmdline_arg ocirun.job) || die "no ocirun.job= on the kernel command line"
  mods=$(cmdline_arg ocirun.mods) || mods=base,mmio,$fs
  for g in $(echo "$mods" | tr , ' '); do
    [ -r /etc/ocirun-vm/modules.$g ] || die "unknown module group $g"
    while read -r m; do
      [ -d "/sys/module/${m%.ko}" ] && continue
      insmod "/lib/modules/$m" || die "insmod $m failed"
    done <"/etc/ocirun-vm/modules.$g"
  done
  CTL=$(find_port ocirun.ctl) || die "no virtio port ocirun.ctl"

  # The host's root, read-only. The device may still be probing: retry.
  i=0
  while :; do
    case $fs in
      virtiofs) mount -t virtiofs -o ro hostroot /host-ro 2>/dev/null && break ;;
      9p) mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000,cache=loose hostroot /host-ro 2>/dev/null && break ;;
      *) die "unknown ocirun.fs=$fs" ;;
    esac
    i=$((i + 1))
    [ $i -lt 100 ] || die "cannot mount the host root over $fs"
    usleep 20000
  done
  mount -t tmpfs -o mode=0755 upper /rw || die "tmpfs for the overlay"
  mkdir -p /rw/upper /rw/work
  mount -t overlay -o lowerdir=/host-ro,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
    die "overlay over the host root"

  R=/newroot
  mount --move /dev $R/dev
  mount --move /proc $R/proc
  mount --move /sys $R/sys
  mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs $R/run || die "tmpfs /run"
  mkdir -p $R/run/ocirun-vm
  cp /bin/busybox /init $R/run/ocirun-vm/ || die "copy busybox"
  cp "/host-ro$job" $R/run/ocirun-vm/job.sh || die "cannot read the job $job"
  echo "$CTL" >$R/run/ocirun-vm/ctl
  echo "$DEBUG" >$R/run/ocirun-vm/debug
  exec switch_root $R /run/ocirun-vm/busybox sh /run/ocirun-vm/init stage2
  die "switch_root failed"
}

stage2() {
  BB=/run/ocirun-vm/busybox
  CTL=$($BB cat /run/ocirun-vm/ctl)
  DEBUG=$($BB cat /run/ocirun-vm/debug)
  [ -n "$DEBUG" ] && set -x
  export PATH=/run/ocirun-vm/bin
  $BB mkdir -p $PATH
  $BB --install -s $PATH

  # The rest of a normal system's mounts.
  mkdir -p /dev/pts /dev/shm /dev/mqueue
  mount -t devpts -o nosuid,noexec,gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts
  mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /dev/shm
  mount -t mqueue -o nosuid,nodev,noexec mqueue /dev/mqueue 2>/dev/null
  # /tmp stays the overlay's: writes land in its tmpfs upper layer, and a
  # checkout under the host's /tmp (where CI may clone) stays visible.
  ln -sf /proc/self/fd /dev/fd
  ln -sf /proc/self/fd/0 /dev/stdin
  ln -sf /proc/self/fd/1 /dev/stdout
  ln -sf /proc/self/fd/2 /dev/stderr
  ln -sf /proc/kcore /dev/core 2>/dev/null
  mkdir -p /run/lock
  mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
  mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
  mount -t bpf -o mode=0700 bpf /sys/fs/bpf 2>/dev/null

  # Pure cgroup v2, every controller enabled for the children of the root
  # (systemd's mount options).
  mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup ||
    mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup || die "mount cgroup2"
  for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
    echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || say "cannot enable the $c controller"
  done

  hostname ocirun-vm
  ip link set lo up 2>/dev/null

  [ -c "$CTL" ] || die "lost the control port"
  out=$(find_port ocirun.stdout) || die "no virtio port ocirun.stdout"
  err=$(find_port ocirun.stderr) || die "no virtio port ocirun.stderr"
  set +x
  echo "start $(cat /proc/uptime)" >"$CTL"

  # The job runs as a child of this shell; while `wait` blocks, ash reaps every
  # child that exits, orphans reparented to PID 1 included. It gets exactly the
  # environment that job.sh exports, and the host's /bin/sh, not busybox's
  # (which prefers its own applets to the commands on PATH).
  cd /
  sh=/bin/sh
  [ -x $sh ] || sh="$BB sh"
  $BB env -i $sh /run/ocirun-vm/job.sh </dev/null >"$out" 2>"$err" &
  pid=$!
  wait $pid
  status=$?
  echo "exit $status $($BB cat /proc/uptime)" >"$CTL"
  # Nothing to sync: every write went to tmpfs.
  $BB poweroff -f
  $BB sleep 5
}

case $STAGE in
  stage2) stage2 ;;
  *) stage1 ;;
esac
