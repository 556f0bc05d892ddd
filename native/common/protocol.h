// Wire protocol between the runtime and the init helper, on one SOCK_STREAM
// socketpair.
//
// Runtime to helper: the plan, JSON of the src/native/plan-schema.ts types
// (read by native/init/plan_schema.cc), inside one PLAN_ENVELOPE record so
// the helper knows where it ends while the socket stays open both ways: after
// MSG_READY the init waits on it for the commit byte 'c' (see
// native/init/main.cc).
//
// Helper to runtime: MSG_* records (native/init/msg.cc, native/spawn/records.cc):
//   record := u16 tag | u16 nfds | u32 length | payload[length]     (host byte order)
// nfds descriptors travel as SCM_RIGHTS with the sendmsg() carrying the
// header's bytes. The engine socket (native/engine/wire.h) carries the same
// records, and native/spawn/records.h reads and writes both.
// Nested records (marked "nested") carry a sequence of records as payload.
// Strings are raw bytes without a terminating NUL. Integers are little-endian
// fixed width: u32 = 4 bytes, u64 = 8 bytes.
#pragma once
#include <stdint.h>

namespace ocirun::proto {

struct RecordHeader {
  uint16_t tag;
  uint16_t nfds;
  uint32_t length;
};
static_assert(sizeof(RecordHeader) == 8, "record header is 8 bytes");

// Upper bound on a whole plan; the planner never sends more.
constexpr uint32_t kMaxPlanBytes = 64u << 20;

enum PlanTag : uint16_t {
  PLAN_ENVELOPE = 99,  // payload: the whole plan, JSON (outermost record only)
};

enum MessageTag : uint16_t {
  // u32 pid of the container init in the runtime's pid namespace; nfds 1 with
  // a pidfd for it when the kernel provides one.
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

  // Only with the plan's `timing`, sent by stage 0 and by the init before MSG_READY:
  // 16-byte entries u32 phase (common/timing.h), u32 zero, u64 CLOCK_MONOTONIC ns.
  MSG_TIMING = 250,

  // empty: the helper pauses for the runtime and waits on fd 3 for 'h' (go on);
  // any other byte or EOF makes it exit. Sent by stage 0 right after MSG_PID
  // when the runtime places the init in its cgroup itself (cgroup.byRuntime:
  // a systemd scope needs the pid), then by the init at the createRuntime
  // point (hooks.pauseForRuntimeHooks). The runtime tells them apart by order.
  MSG_HOOKS = 190,
};

}  // namespace ocirun::proto
