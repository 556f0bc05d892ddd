// cgroups: the init is in the container's cgroups before it runs anything.
//
// On a v2 host clone3(CLONE_INTO_CGROUP) puts it there as it is born; on v1
// and hybrid hosts stage 0 writes its pid to every cgroup.procs file before
// releasing it. Both are opened first thing in stage 0, with the runtime's
// credentials and cgroup namespace: the kernel judges a cgroup.procs write by
// its opener, and a joined user or cgroup namespace could hide the target.
//
// A new cgroup namespace is made by the init itself once it is in place
// (clone3 would root the namespace at the runtime's cgroup, not the
// container's), so the container sees its own cgroup as "/".
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
std::vector<int> g_procs;

}  // namespace

bool open_cgroups(const Plan& plan) {
  if (!plan.cgroup_dir.empty()) {
    g_dir = open(plan.cgroup_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (g_dir < 0) return fail(errno, "open", plan.cgroup_dir, "open the container's cgroup");
  }
  for (const auto& path : plan.cgroup_procs) {
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return fail(errno, "open", path, "open the container's cgroup via");
    g_procs.push_back(fd);
  }
  return true;
}

int cgroup_dir_fd() {
  return g_dir;
}

bool place_init(const Plan& plan, pid_t pid) {
  const std::string s = std::to_string(pid);
  for (size_t i = 0; i < g_procs.size(); i++) {
    if (!write_all(g_procs[i], s.data(), s.size()))
      return fail(errno, "write", plan.cgroup_procs[i], "move the container init into its cgroup via");
  }
  return true;
}

void close_cgroups() {
  if (g_dir >= 0) close(g_dir);
  g_dir = -1;
  for (int fd : g_procs) close(fd);
  g_procs.clear();
}

bool enter_cgroup_namespace(const Plan& plan) {
  if (!plan.places_cgroup() || !(plan.new_namespaces() & CLONE_NEWCGROUP)) return true;
  if (unshare(CLONE_NEWCGROUP) < 0) return fail(errno, "unshare", "", "create cgroup namespace");
  return true;
}

}  // namespace ocirun::init
