// Per-process kernel attributes that execve keeps: personality, scheduling
// policy, I/O priority and CPU affinity.
#include <errno.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init/msg.h"
#include "init/steps.h"

namespace ocirun::init {

namespace {

// struct sched_attr from <linux/sched/types.h>, which clashes with glibc's headers.
struct SchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime, sched_deadline, sched_period;
  uint32_t sched_util_min, sched_util_max;
};
constexpr uint32_t kSchedAttrSize0 = 48;  // SCHED_ATTR_SIZE_VER0: no utilization clamps
constexpr uint64_t kSchedFlagUtilClamp = 0x20 | 0x40;
constexpr int kIoprioWhoProcess = 1;

bool set_affinity(const std::vector<uint64_t>& mask, const char* which) {
  if (mask.empty()) return true;
  if (sched_setaffinity(0, mask.size() * sizeof(uint64_t), reinterpret_cast<const cpu_set_t*>(mask.data())) < 0)
    return fail_msg(errno, "sched_setaffinity", "", std::string("set ") + which + " CPU affinity");
  return true;
}

}  // namespace

bool apply_initial_affinity(const Process& p) { return set_affinity(p.affinity_initial, "initial"); }

bool apply_final_affinity(const Process& p) { return set_affinity(p.affinity_final, "final"); }

bool apply_process_attrs(const Process& p) {
  if (p.has_personality && personality(p.personality) < 0)
    return fail_msg(errno, "personality", "", "set personality " + std::to_string(p.personality));
  if (p.has_scheduler) {
    const Scheduler& s = p.scheduler;
    SchedAttr attr{};
    // The utilization clamps need the larger struct; their values stay 0 (the spec has none).
    attr.size = (s.flags & kSchedFlagUtilClamp) ? sizeof attr : kSchedAttrSize0;
    attr.sched_policy = s.policy;
    attr.sched_flags = s.flags;
    attr.sched_nice = s.nice;
    attr.sched_priority = s.priority;
    attr.sched_runtime = s.runtime;
    attr.sched_deadline = s.deadline;
    attr.sched_period = s.period;
    if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0)
      return fail_msg(errno, "sched_setattr", "", "set scheduler policy " + std::to_string(s.policy));
  }
  if (p.has_ioprio && syscall(SYS_ioprio_set, kIoprioWhoProcess, 0, p.ioprio) < 0)
    return fail(errno, "ioprio_set", "", "set I/O priority");
  return true;
}

}  // namespace ocirun::init
