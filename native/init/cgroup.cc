// cgroups: the init is in the container's cgroups before it runs anything.
//
// On a v2 host (and for the v2 hierarchy of a hybrid one) clone3
// (CLONE_INTO_CGROUP) puts it there as it is born; in v1 hierarchies the
// released init writes "0" to their tasks files, moving itself, before it
// does anything else. Not its pid to cgroup.procs from stage 0: that write
// takes the kernel's global cgroup_threadgroup_rwsem for writing, and its
// rcu_sync waits for a whole RCU grace period (7-23 ms on this project's
// machine) unless another such write came within the last one; a thread
// moving itself takes no such lock (cgroup_procs_write_start). What remains
// in cgroup.procs (a v2 cgroup a joined cgroup namespace may not see through
// clone3) stage 0 writes before the release. All are opened first thing in
// stage 0, with the runtime's credentials and cgroup namespace: the kernel
// judges a cgroup write by its opener, and a joined user or cgroup namespace
// could hide the target.
//
// With the systemd driver the runtime does it: a transient scope is created
// with the init's pid, so stage 0 pauses after MSG_PID (cgroup.byRuntime)
// until the runtime has the scope, before the init is released.
//
// A new cgroup namespace is made by the init itself once it is in place
// (clone3 would root the namespace at the runtime's cgroup, not the
// container's), so the container sees its own cgroup as "/".
//
// exec does the same with stage 0 in the init's place (exec_mode.cc): it is
// single-threaded, so "0" to tasks moves all of it, and the process it clones
// is born in the cgroup2 one; what the runtime could not plan that way
// (rootless, a joined cgroup namespace under nsdelegate: src/cgroups/join.ts)
// is stage 0's own pid to cgroup.procs, as before.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "init/msg.h"
#include "init/steps.h"

namespace ocirun::init {

namespace {

int g_dir = -1;
std::vector<int> g_procs, g_tasks;

// exec's words are the ones it always had.
const char* what(const Plan& plan, bool open = false) {
  if (plan.exec_mode()) return "join the container's cgroup via";
  return open ? "open the container's cgroup via" : "move the container init into its cgroup via";
}

}  // namespace

bool open_cgroups(const Plan& plan) {
  if (!plan.cgroup_dir.empty()) {
    g_dir = open(plan.cgroup_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (g_dir < 0) return fail(errno, "open", plan.cgroup_dir, "open the container's cgroup");
  }
  for (const auto& path : plan.cgroup_procs) {
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return fail(errno, "open", path, what(plan, true));
    g_procs.push_back(fd);
  }
  for (const auto& path : plan.cgroup_tasks) {
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return fail(errno, "open", path, what(plan, true));
    g_tasks.push_back(fd);
  }
  return true;
}

int cgroup_dir_fd() {
  return g_dir;
}

bool place_init(const Plan& plan, pid_t pid) {
  if (plan.cgroup_by_runtime && !pause_for_runtime("place the container init in its cgroup")) return false;
  const std::string s = std::to_string(pid);
  for (size_t i = 0; i < g_procs.size(); i++) {
    if (!write_all(g_procs[i], s.data(), s.size()))
      return fail(errno, "write", plan.cgroup_procs[i], what(plan));
  }
  return true;
}

bool move_self(const Plan& plan) {
  // "0" is the writer itself; the init is single-threaded, so this is the whole process.
  for (size_t i = 0; i < g_tasks.size(); i++) {
    if (!write_all(g_tasks[i], "0", 1))
      return fail(errno, "write", plan.cgroup_tasks[i], what(plan));
  }
  return true;
}

void close_cgroups() {
  if (g_dir >= 0) close(g_dir);
  g_dir = -1;
  for (int fd : g_procs) close(fd);
  for (int fd : g_tasks) close(fd);
  g_procs.clear();
  g_tasks.clear();
}

bool enter_cgroup_namespace(const Plan& plan) {
  if (!plan.places_cgroup() || !(plan.new_namespaces() & CLONE_NEWCGROUP)) return true;
  if (unshare(CLONE_NEWCGROUP) < 0) return fail(errno, "unshare", "", "create cgroup namespace");
  return true;
}

}  // namespace ocirun::init
