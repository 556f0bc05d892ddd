// The id maps of a new user namespace, written by stage 0 once the init
// exists, and becoming root in it. Root (CAP_SETUID over our namespace)
// writes uid_map/gid_map itself. Without root the kernel lets us map only our
// own uid and gid, and the gid only after setgroups is denied
// (user_namespaces(7)); anything wider goes through the setuid newuidmap and
// newgidmap (shadow's uidmap), which check /etc/subuid and /etc/subgid, as
// runc does. Which of these applies is the planner's decision
// (src/rootless/idmaps.ts); here it is only carried out.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init/msg.h"
#include "init/steps.h"

namespace ocirun::init {

namespace {

// -1: not read yet.
int g_setgroups_denied = -1;

bool read_setgroups_denied() {
  char c[5] = {};
  int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool denied = read(fd, c, 4) == 4 && memcmp(c, "deny", 4) == 0;
  close(fd);
  return denied;
}

const char* basename_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path.c_str() : path.c_str() + slash + 1;
}

bool write_proc(pid_t pid, const char* file, const std::string& data, const char* what) {
  return write_once("/proc/" + std::to_string(pid) + "/" + file, data, what);
}

std::string map_lines(const std::vector<IdMap>& maps) {
  std::string s;
  char line[64];
  for (const auto& m : maps) {
    snprintf(line, sizeof line, "%u %u %u\n", m.inside, m.outside, m.size);
    s += line;
  }
  return s;
}

// newuidmap PID inside outside size ...; its complaint (stderr) becomes ours.
bool run_map_helper(const std::string& helper, pid_t pid, const std::vector<IdMap>& maps) {
  std::vector<std::string> words{helper, std::to_string(pid)};
  for (const auto& m : maps) {
    words.push_back(std::to_string(m.inside));
    words.push_back(std::to_string(m.outside));
    words.push_back(std::to_string(m.size));
  }
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  int out[2];
  if (pipe2(out, O_CLOEXEC) < 0) return fail(errno, "pipe2", helper, "run");
  pid_t child = fork();
  if (child < 0) {
    int e = errno;
    close(out[0]);
    close(out[1]);
    return fail(e, "fork", helper, "run");
  }
  if (child == 0) {
    // Nothing of ours (the plan socket, the container's fds) reaches a setuid program.
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0) _exit(126);
    syscall(SYS_close_range, 3, ~0u, 0);
    char* envp[] = {const_cast<char*>("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nullptr};
    execve(helper.c_str(), argv.data(), envp);
    dprintf(2, "exec: %s", strerror(errno));
    _exit(127);
  }
  close(out[1]);
  char buf[512];
  size_t used = 0;
  for (;;) {
    ssize_t n = read(out[0], buf + used, sizeof buf - 1 - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += static_cast<size_t>(n);
    if (used == sizeof buf - 1) break;
  }
  close(out[0]);
  int status = 0;
  pid_t w;
  do w = waitpid(child, &status, 0);
  while (w < 0 && errno == EINTR);
  if (w == child && WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  buf[used] = 0;
  std::string said(buf);
  size_t nl = said.find('\n');
  if (nl != std::string::npos) said.resize(nl);
  return fail_msg(EPERM, basename_of(helper), "", helper + " failed" + (said.empty() ? "" : ": " + said));
}

}  // namespace

bool write_id_maps(const Plan& plan, pid_t pid) {
  if (!(plan.new_namespaces() & CLONE_NEWUSER)) return true;
  bool ok = plan.uid_map_helper.empty() ? write_proc(pid, "uid_map", map_lines(plan.uid_maps), "write uid map")
                                        : run_map_helper(plan.uid_map_helper, pid, plan.uid_maps);
  if (ok && plan.setgroups_deny) ok = write_proc(pid, "setgroups", "deny", "deny setgroups");
  if (!ok) return false;
  return plan.gid_map_helper.empty() ? write_proc(pid, "gid_map", map_lines(plan.gid_maps), "write gid map")
                                     : run_map_helper(plan.gid_map_helper, pid, plan.gid_maps);
}

bool setgroups_denied() {
  if (g_setgroups_denied < 0) g_setgroups_denied = read_setgroups_denied();
  return g_setgroups_denied == 1;
}

bool become_userns_root() {
  // Denied (an unprivileged runtime wrote our gid map), setgroups(2) is EPERM
  // for good: there are then no groups to drop, and none may be set later.
  // Read now, while /proc is still the host's.
  g_setgroups_denied = read_setgroups_denied();
  if (setresgid(0, 0, 0) < 0) return fail(errno, "setresgid", "", "become root in user namespace");
  if (!g_setgroups_denied && setgroups(0, nullptr) < 0) return fail(errno, "setgroups", "", "become root in user namespace");
  if (setresuid(0, 0, 0) < 0) return fail(errno, "setresuid", "", "become root in user namespace");
  return true;
}

}  // namespace ocirun::init
