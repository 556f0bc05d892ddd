// Resource limits, OOM score, and the user's credentials: groups, uid/gid,
// capability sets, umask and no_new_privs.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init/msg.h"
#include "init/steps.h"

namespace ocirun::init {

namespace {

// Highest capability the running kernel knows; bits above it cannot be
// dropped from the bounding set (EINVAL) and do not need to be.
int last_cap() {
  int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return CAP_LAST_CAP;
  char buf[16] = {};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  int v = n > 0 ? atoi(buf) : 0;
  return v > 0 && v < 64 ? v : CAP_LAST_CAP;
}

bool set_caps(const Caps& c) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; i++) {
    data[i].effective = static_cast<uint32_t>(c.effective >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(c.permitted >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(c.inheritable >> (32 * i));
  }
  if (syscall(SYS_capset, &hdr, data) < 0) return fail(errno, "capset", "", "set capabilities");
  return true;
}

constexpr uint32_t kNoId = static_cast<uint32_t>(-1);

bool check_id(uint32_t id, const char* what) {
  if (id != kNoId) return true;
  return fail_msg(EINVAL, "setresuid", "", std::string("plan: ") + what + " 4294967295 is (uid_t)-1, which set*id() reads as \"unchanged\"");
}

// The kernel's map_write() refuses the same extents; checking here names the
// map instead of failing with a bare EINVAL from a write to /proc.
bool check_map(const std::vector<IdMap>& maps, const char* what) {
  for (const auto& m : maps) {
    bool ok = m.size > 0 && m.inside != kNoId && m.outside != kNoId &&
              uint64_t{m.inside} + m.size <= kNoId && uint64_t{m.outside} + m.size <= kNoId;
    if (!ok)
      return fail_msg(EINVAL, "write", "", std::string("plan: ") + what + " extent " + std::to_string(m.inside) + " " +
                                               std::to_string(m.outside) + " " + std::to_string(m.size) + " is out of range");
  }
  return true;
}

}  // namespace

// The TypeScript validator refuses all of these with their JSON paths; this is
// the helper's own check right before the ids reach the kernel, so no plan
// (from whatever caller) can turn a special value into "stay root".
bool check_plan_ids(const Plan& plan) {
  const Process& p = plan.process;
  if (!check_id(p.uid, "process uid") || !check_id(p.gid, "process gid")) return false;
  for (uint32_t g : p.additional_gids)
    if (!check_id(g, "additional gid")) return false;
  for (const auto& d : plan.devices)
    if (!check_id(d.uid, "device uid") || !check_id(d.gid, "device gid")) return false;
  if (!check_map(plan.uid_maps, "uid map") || !check_map(plan.gid_maps, "gid map")) return false;
  for (const auto& m : plan.mounts)
    if (!check_map(m.uid_maps, "mount uid map") || !check_map(m.gid_maps, "mount gid map")) return false;
  return true;
}

bool apply_oom_score_adj(const Process& p) {
  if (!p.has_oom) return true;
  int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail(errno, "open", "/proc/self/oom_score_adj", "set oom score via");
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%lld", static_cast<long long>(p.oom_score_adj));
  bool ok = write_all(fd, buf, static_cast<size_t>(n));
  int e = errno;
  close(fd);
  if (!ok) return fail(e, "write", "/proc/self/oom_score_adj", "set oom score via");
  return true;
}

bool apply_rlimits(const Process& p) {
  for (const auto& l : p.rlimits) {
    rlimit r{l.soft, l.hard};
    // prlimit so a raise above the current hard limit works while we still
    // hold CAP_SYS_RESOURCE.
    if (prlimit(0, static_cast<__rlimit_resource>(l.resource), &r, nullptr) < 0)
      return fail_msg(errno, "setrlimit", "", "set rlimit " + std::to_string(l.resource));
  }
  return true;
}

bool apply_credentials(const Process& p) {
  // Again at the call: -1 here would mean "keep the runtime's root".
  if (!check_id(p.uid, "process uid") || !check_id(p.gid, "process gid")) return false;
  const std::vector<uint32_t>& g = p.additional_gids;
  for (uint32_t id : g)
    if (!check_id(id, "additional gid")) return false;
  if (setgroups_denied()) {
    // The planner refuses additionalGids for such a container; an exec may still ask.
    if (!g.empty()) return fail(EPERM, "setgroups", "", "set additional groups: setgroups is denied in this rootless user namespace");
  } else if (setgroups(g.size(), reinterpret_cast<const gid_t*>(g.data())) < 0) {
    return fail(errno, "setgroups", "", "set additional groups");
  }
  if (p.has_caps) {
    // Keep the permitted set across the uid change; capset then sets exactly
    // the planned sets.
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return fail(errno, "prctl", "", "set keepcaps");
    int last = last_cap();
    for (int cap = 0; cap <= last; cap++) {
      if (p.caps.bounding & (1ull << cap)) continue;
      if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
        return fail_msg(errno, "prctl", "", "drop capability " + std::to_string(cap) + " from bounding set");
    }
  }
  if (setresgid(p.gid, p.gid, p.gid) < 0) return fail(errno, "setresgid", "", "set gid");
  if (setresuid(p.uid, p.uid, p.uid) < 0) return fail(errno, "setresuid", "", "set uid");
  if (p.has_caps) {
    if (!set_caps(p.caps)) return false;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
      return fail(errno, "prctl", "", "clear ambient capabilities");
    for (int cap = 0; cap < 64; cap++) {
      if (!(p.caps.ambient & (1ull << cap))) continue;
      // The kernel refuses an ambient cap that is not also permitted and
      // inheritable; runc's default spec asks for exactly that, and the spec
      // says an ungrantable capability must not fail the container.
      if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 && errno != EPERM)
        return fail_msg(errno, "prctl", "", "raise ambient capability " + std::to_string(cap));
    }
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return fail(errno, "prctl", "", "clear keepcaps");
  }
  if (p.has_umask) umask(p.umask);
  if (p.no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return fail(errno, "prctl", "", "set no_new_privs");
  return true;
}

}  // namespace ocirun::init
