// Wire protocol between the TypeScript planner (src/native/protocol.ts mirrors
// this file; keep them in step) and the init helper.
//
// Framing, both directions, on one SOCK_STREAM socketpair:
//   record := u16 tag | u16 zero | u32 length | payload[length]     (host byte order)
// Nested records (marked "nested") carry a sequence of records as payload.
// Strings are raw bytes without a terminating NUL; an embedded NUL is an error.
// Integers are little-endian fixed width: u32 = 4 bytes, u64/i64 = 8 bytes.
// A flag record ("flag") has an empty payload; its presence means true.
//
// The addon sends the plan inside one PLAN_ENVELOPE record (its payload is the
// plan's record stream), so the helper knows where it ends while the socket
// stays open both ways: after MSG_READY the init waits on it for the commit
// byte 'c' (see native/init/main.cc). A bare record stream ended by EOF (no
// envelope) is accepted too, for test drivers. The helper answers with MSG_*.
#pragma once
#include <stdint.h>

namespace ocirun::proto {

struct RecordHeader {
  uint16_t tag;
  uint16_t zero;
  uint32_t length;
};
static_assert(sizeof(RecordHeader) == 8, "record header is 8 bytes");

// Upper bound on a whole plan; the planner never sends more.
constexpr uint32_t kMaxPlanBytes = 64u << 20;

enum PlanTag : uint16_t {
  // nested: one namespace. NS_TYPE is required, NS_PATH means "join", absent means "new".
  PLAN_NAMESPACE = 1,
  NS_TYPE = 2,        // u32: the CLONE_NEW* constant
  NS_PATH = 3,        // string: absolute path of a namespace file to setns() into

  PLAN_UID_MAP = 4,   // 3 x u32: containerID, hostID, size (one record per line)
  PLAN_GID_MAP = 5,   // same layout

  PLAN_HOSTNAME = 6,    // string
  PLAN_DOMAINNAME = 7,  // string

  PLAN_ROOTFS = 8,             // string: absolute host path of the root filesystem
  PLAN_ROOTFS_READONLY = 9,    // flag
  PLAN_NO_PIVOT = 10,          // flag: chroot + MS_MOVE instead of pivot_root
  PLAN_ROOT_PROPAGATION = 11,  // u64: mount flags for "/" before setup (default MS_SLAVE|MS_REC)
  PLAN_ROOTFS_PROPAGATION = 12,// u64: mount flags applied to the new root after setup (optional)

  // nested: one mount, performed in plan order after the rootfs is bind-mounted onto itself.
  PLAN_MOUNT = 13,
  M_DEST = 14,          // string: absolute path inside the container
  M_SOURCE = 15,        // string: host path for binds, anything for others ("" allowed)
  M_TYPE = 16,          // string: filesystem type ("" for binds)
  M_FLAGS = 17,         // u64: flags for the first mount(2) call (MS_BIND|MS_REC for binds)
  M_DATA = 18,          // string: fs-specific data ("" if none)
  M_REMOUNT_FLAGS = 19, // u64: present => second call mount(NULL, dest, NULL, MS_REMOUNT|MS_BIND|value)
  M_PROPAGATION = 20,   // u64, repeated: each a mount(NULL, dest, NULL, value) call after mounting
  M_ATTR_SET = 21,      // u64: mount_setattr(AT_RECURSIVE) attr_set (rro, rnosuid...) — optional
  M_ATTR_CLR = 22,      // u64: mount_setattr attr_clr — optional
  M_MKDIR_ONLY = 23,    // flag: only create M_DEST as a directory (used for layout), no mount
  M_SYMLINK = 24,       // string: instead of mounting, create M_DEST as a symlink with this target
  // Mount extensions (tags 25-29, decoded in native/init/plan_ext.cc).
  M_IDMAP = 25,         // flag: bind via an id-mapped clone of M_SOURCE (MOUNT_ATTR_IDMAP, top mount only)
  M_RIDMAP = 26,        // flag: same, id-mapping every mount of a recursive bind
  M_UID_MAP = 27,       // 12 bytes like PLAN_UID_MAP, repeated: the mount's own mapping (absent: the container's)
  M_GID_MAP = 28,       // same for gids; given together with M_UID_MAP or not at all
  M_COPYUP = 29,        // flag: tmpfs only; copy what M_DEST held into the new tmpfs (tmpcopyup)

  // nested: one device node to create inside the container's /dev.
  PLAN_DEVICE = 30,
  D_PATH = 31,   // string: absolute container path (e.g. /dev/null)
  D_TYPE = 32,   // u32: S_IFCHR, S_IFBLK or S_IFIFO
  D_MAJOR = 33,  // u64
  D_MINOR = 34,  // u64
  D_MODE = 35,   // u32: permission bits
  D_UID = 36,    // u32
  D_GID = 37,    // u32
  D_BIND = 38,   // flag: bind-mount the host's node at the same path instead of mknod (user namespaces)

  // nested: a symlink created after mounts and devices, before pivot_root.
  PLAN_SYMLINK = 40,
  L_PATH = 41,    // string: absolute container path
  L_TARGET = 42,  // string: link target, stored as given

  PLAN_MASKED_PATH = 45,    // string, repeated: after pivot
  PLAN_READONLY_PATH = 46,  // string, repeated: after pivot

  PLAN_STATE_DIR = 50,      // string: host path of the state dir; the helper blocks on
                            // opening <dir>/exec.fifo for writing until `start`.

  // nested: the user process.
  PLAN_PROCESS = 60,
  P_ARG = 61,         // string, repeated, in order (at least one)
  P_ENV = 62,         // string "K=V", repeated
  P_CWD = 63,         // string: absolute path inside the container
  P_UID = 64,         // u32
  P_GID = 65,         // u32
  P_ADDITIONAL_GID = 66,  // u32, repeated
  P_UMASK = 67,       // u32 (absent: leave the umask alone)
  P_NO_NEW_PRIVS = 68,// flag
  P_RLIMIT = 69,      // 24 bytes: u32 resource, u32 zero, u64 soft, u64 hard (RLIM_INFINITY = ~0)
  P_CAPS = 70,        // flag: capabilities are managed; the five sets below follow (absent set = empty)
  P_CAP_BOUNDING = 71,    // u64 bit mask (bit n = capability n)
  P_CAP_EFFECTIVE = 72,
  P_CAP_INHERITABLE = 73,
  P_CAP_PERMITTED = 74,
  P_CAP_AMBIENT = 75,
  P_OOM_SCORE_ADJ = 76,   // i64 (absent: do not touch)
  // Process extras and security (tags 120-169), inside PLAN_PROCESS. See native/init/seccomp.cc.
  P_SECCOMP = 120,        // nested: the filter, compiled by the helper with libseccomp
  SC_DEFAULT_ACTION = 121,// u32: SCMP_ACT_* value (errno/trace data in the low 16 bits)
  SC_ARCH = 122,          // string, repeated: libseccomp architecture name ("x86", "x32"...)
  SC_FLAGS = 123,         // u32: SECCOMP_FILTER_FLAG_* for seccomp(2) (LOG, SPEC_ALLOW, WAIT_KILLABLE_RECV)
  SC_RULE = 124,          // nested, repeated: SR_NAME+, SR_ACTION, SR_ARG* (args are ANDed)
  SR_NAME = 125,          //   string, repeated: syscall name; unknown to libseccomp = skipped with a warning
  SR_ACTION = 126,        //   u32: SCMP_ACT_* value
  SR_ARG = 127,           //   24 bytes: u32 index, u32 scmp_compare op, u64 value, u64 valueTwo
  SC_LISTENER_PATH = 128, // string: host AF_UNIX socket for SCMP_ACT_NOTIFY (connected in stage 0)
  SC_LISTENER_STATE = 129,// string, repeated: state JSON pieces; the init's pid is put between them
  P_APPARMOR = 130,       // string: profile for "exec <profile>" right before execve
  P_SCHEDULER = 131,      // 48 bytes: u32 policy, i32 nice, u32 priority, u32 zero, u64 flags,
                          //           u64 runtime, u64 deadline, u64 period (sched_setattr)
  P_IOPRIO = 132,         // u32: ioprio_set(IOPRIO_WHO_PROCESS) value (class << 13 | level)
  P_AFFINITY_INITIAL = 133, // bytes: CPU mask (n*8 bytes, bit i = cpu i), set first thing in stage 0
  P_AFFINITY_FINAL = 134,   // bytes: CPU mask, set right before execve
  P_PERSONALITY = 135,    // u32: personality(2) persona
  SC_CACHE_DIR = 136,     // string, in P_SECCOMP: host directory of compiled filters (stage 0 keeps it)
  SC_CACHE_KEY = 137,     // string, in P_SECCOMP: the planner's name for this profile's entry

  PLAN_TIME_OFFSET = 80,  // u32 clock id (CLOCK_MONOTONIC / CLOCK_BOOTTIME), u32 nanoseconds, i64 seconds
  PLAN_SYSCTL = 81,       // nested: SYSCTL_KEY string, SYSCTL_VALUE string (written to /proc/sys after mounts)
  SYSCTL_KEY = 82,
  SYSCTL_VALUE = 83,

  PLAN_DEBUG = 90,        // flag: the helper may write diagnostics to stderr

  PLAN_ENVELOPE = 99,     // payload: the whole plan (outermost record only)

  // Hooks (tags 170-189, decoded in native/init/plan_ext.cc; see docs/hooks.md).
  PLAN_HOOKS_PAUSE = 170, // flag: after mounts and devices, send MSG_HOOKS and wait for 'h' on fd 3
                          // (the runtime runs prestart and createRuntime hooks meanwhile)
  PLAN_HOOK = 171,        // nested, repeated in order: a hook the init runs itself
  H_KIND = 172,           //   u32: HOOK_CREATE_CONTAINER or HOOK_START_CONTAINER
  H_PATH = 173,           //   string: absolute path (resolved where the hook runs)
  H_ARG = 174,            //   string, repeated: argv (absent: argv = { path })
  H_ENV = 175,            //   string "K=V", repeated: the whole environment
  H_TIMEOUT = 176,        //   u32 seconds > 0 (absent: no limit)
  PLAN_HOOK_STATE_CREATE = 177, // string, exactly twice: state JSON ("creating") before and after the pid
  PLAN_HOOK_STATE_START = 178,  // string, exactly twice: same with status "created"

  // Terminal and exec (tags 200-239, decoded in native/init/plan_exec.cc; docs/terminals.md, docs/exec.md).
  PLAN_CONSOLE_SOCKET = 200, // u32: which inherited fd of the helper is a connected console socket; its
                             //      presence means process.terminal (the pty master is sent there)
  PLAN_CONSOLE_SIZE = 201,   // 2 x u32: rows, columns (process.consoleSize)
  PLAN_EXEC_TARGET = 210,    // u32: which inherited fd is a pidfd of the container's init. Its presence
                             //      selects exec mode: join (PLAN_NAMESPACE paths only), fork, run PLAN_PROCESS;
                             //      after the commit byte the socket stays open until execve (EOF = started)
  PLAN_EXEC_CGROUP = 211,    // string, repeated: a host cgroup.procs file the exec'd process joins first

  PLAN_TIMING = 240,      // flag: record phase timestamps and send them as MSG_TIMING

  // cgroups (tags 260-279, decoded in native/init/plan_cgroup.cc; see docs/cgroups.md). Either one
  // means "placed": a new cgroup namespace is then made by the init once it is in its cgroups.
  PLAN_CGROUP_DIR = 260,   // string: v2 cgroup directory, opened by stage 0 before joining namespaces;
                           //         the init is clone3()d into it (CLONE_INTO_CGROUP)
  PLAN_CGROUP_PROCS = 261, // string, repeated: a cgroup.procs file, opened by stage 0 before joining
                           //         namespaces; the init's pid is written to it before the init is released
};

enum MessageTag : uint16_t {
  // u32 pid of the container init in the runtime's pid namespace. A pidfd for it
  // travels in the same sendmsg() as SCM_RIGHTS when the kernel provides one.
  MSG_PID = 100,
  // nested: a failure. The helper exits after sending it.
  MSG_ERROR = 101,
  E_ERRNO = 102,    // u32 positive errno (0 if none)
  E_SYSCALL = 103,  // string: the failing call ("mount", "pivot_root"...)
  E_PATH = 104,     // string: the path involved, as the user wrote it (container path)
  E_MESSAGE = 105,  // string: what the helper was doing, for humans
  // empty: setup is complete and the init is blocked on exec.fifo waiting for start.
  MSG_READY = 106,
  // string: a non-fatal warning to show the user.
  MSG_WARNING = 107,

  // Only with PLAN_TIMING, sent by stage 0 and by the init before MSG_READY:
  // 16-byte entries u32 phase (common/timing.h), u32 zero, u64 CLOCK_MONOTONIC ns.
  MSG_TIMING = 250,

  // empty: the init reached the createRuntime point (PLAN_HOOKS_PAUSE) and
  // waits on fd 3 for 'h' (go on); any other byte or EOF makes it exit.
  MSG_HOOKS = 190,
};

enum HookKind : uint32_t {
  HOOK_CREATE_CONTAINER = 1,
  HOOK_START_CONTAINER = 2,
};

}  // namespace ocirun::proto
