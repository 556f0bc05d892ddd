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
# With ocirun.systemd=1, stage 2 instead writes a few units into the overlay's
# /etc and execs /lib/systemd/systemd as PID 1 (systemd.unit=ocirun-vm.target
# on the command line). It starts only the system D-Bus and
# ocirun-vm-job.service, which runs `init sdjob`: the same job, ports,
# start/exit lines and power-off, in a delegated cgroup.
#
# Kernel command line: ocirun.fs=virtiofs|9p ocirun.mods=base,mmio,virtiofs
# ocirun.job=/host/path/job.sh [ocirun.debug=1] [ocirun.systemd=1]

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
  SYSTEMD=$(cmdline_arg ocirun.systemd || true)
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
  echo "$SYSTEMD" >$R/run/ocirun-vm/systemd
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

  if [ "$($BB cat /run/ocirun-vm/systemd)" = 1 ]; then
    systemd_setup
    set +x
    # systemd mounts cgroup2 itself (pure v2: systemd.unified_cgroup_hierarchy=1).
    exec /lib/systemd/systemd
    die "cannot exec /lib/systemd/systemd"
  fi

  # Pure cgroup v2, every controller enabled for the children of the root
  # (systemd's mount options).
  mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup ||
    mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup || die "mount cgroup2"
  for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
    echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || say "cannot enable the $c controller"
  done

  hostname ocirun-vm
  ip link set lo up 2>/dev/null

  run_job
}

# The job, with stdout/stderr on the virtio ports and "start"/"exit" on the
# ctl port, then power-off. Plain mode: in PID 1 (stage 2); under systemd: in
# ocirun-vm-job.service (`init sdjob`).
run_job() {
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

# Stage 2 under systemd: the configuration, in the overlay's /etc (it outranks
# /run and /lib, and is discarded at power-off).
systemd_setup() {
  sd=/etc/systemd
  mkdir -p $sd/system/dbus.service.d $sd/system/dbus.socket.d $sd/system.conf.d \
    $sd/system-generators $sd/system-environment-generators
  # Generators would read the host's fstab, GPT partitions, getty and SysV
  # setup: none applies to the overlay, and each costs a process at boot.
  for d in /lib/systemd/system-generators /lib/systemd/system-environment-generators; do
    for g in "$d"/*; do
      [ -e "$g" ] && ln -sf /dev/null "$sd/${d##*/}/${g##*/}"
    done
  done
  # ocirun-vm.target has no default dependencies, so sysinit.target and
  # basic.target are not pulled in at boot. These are masked in case a unit
  # started later pulls them: none has anything to do in the VM (udev and its
  # settle, getty, networking, timers, journald's flush, the host's daemons).
  for u in systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
    systemd-udev-trigger.service systemd-udev-settle.service getty.target serial-getty@ttyS0.service \
    getty@tty1.service console-getty.service systemd-networkd.service systemd-networkd.socket \
    systemd-networkd-wait-online.service networking.service systemd-resolved.service \
    systemd-timesyncd.service timers.target apt-daily.timer apt-daily-upgrade.timer \
    e2scrub_all.timer fstrim.timer logrotate.timer man-db.timer systemd-tmpfiles-clean.timer \
    cron.service ssh.service containerd.service docker.service podman.service postgresql.service \
    systemd-random-seed.service systemd-update-utmp.service systemd-journal-flush.service \
    systemd-firstboot.service systemd-machine-id-commit.service swap.target cryptsetup.target \
    remote-fs.target; do
    ln -sf /dev/null "$sd/system/$u"
  done
  # Debian's tmp.conf empties /tmp at boot (D), which systemd-tmpfiles-setup does
  # as soon as a unit pulls in sysinit.target (user@.service does): /tmp is the
  # host's, and holds the tree under test when that is a CI clone in /tmp.
  mkdir -p /etc/tmpfiles.d
  printf '%s\n' '# written by test/vm/init.sh: keep the host'"'"'s /tmp' 'd /tmp 1777 root root -' >/etc/tmpfiles.d/tmp.conf
  # Accounting on: systemd then enables every controller it manages down to
  # each unit's cgroup.
  printf '%s\n' '# written by test/vm/init.sh' '[Manager]' \
    DefaultCPUAccounting=yes DefaultIOAccounting=yes DefaultMemoryAccounting=yes \
    DefaultTasksAccounting=yes DefaultStandardOutput=null DefaultStandardError=null \
    DefaultTimeoutStopSec=10s >$sd/system.conf.d/ocirun-vm.conf
  for u in dbus.service dbus.socket; do
    printf '%s\n' '# written by test/vm/init.sh' '[Unit]' DefaultDependencies=no >"$sd/system/$u.d/ocirun-vm.conf"
  done
  printf '%s\n' '# written by test/vm/init.sh: the whole boot (systemd.unit=ocirun-vm.target)' \
    '[Unit]' 'Description=ocirun test VM' DefaultDependencies=no \
    'Wants=dbus.socket dbus.service ocirun-vm-job.service' >$sd/system/ocirun-vm.target
  printf '%s\n' '# written by test/vm/init.sh: the command of test/vm/run.mjs --systemd' \
    '[Unit]' 'Description=ocirun test VM job' DefaultDependencies=no \
    Requires=dbus.socket 'After=dbus.socket dbus.service' '' \
    '[Service]' Type=exec 'ExecStart=/run/ocirun-vm/busybox sh /run/ocirun-vm/init sdjob' \
    Delegate=yes TasksMax=infinity LimitNOFILE=1048576 LimitNPROC=infinity LimitCORE=infinity \
    StandardInput=null StandardOutput=null StandardError=null >$sd/system/ocirun-vm-job.service
  echo ocirun-vm >/etc/hostname
  # The host may be a container: systemd must not think it is one too (it would
  # then ignore the kernel command line, systemd.unit= included).
  rm -f /.dockerenv /run/.containerenv
}

case $STAGE in
  stage2) stage2 ;;
  sdjob)
    BB=/run/ocirun-vm/busybox
    CTL=$($BB cat /run/ocirun-vm/ctl)
    [ -n "$($BB cat /run/ocirun-vm/debug)" ] && set -x
    export PATH=/run/ocirun-vm/bin
    run_job
    ;;
  *) stage1 ;;
esac
