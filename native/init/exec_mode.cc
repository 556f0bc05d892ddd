// Exec mode (`ocirun exec`): one more process in an existing container.
//
// Stage 0 runs in the runtime's namespaces: it opens the init's cgroups and
// moves itself into the v1 ones (and any cgroup.procs the runtime could not
// avoid: cgroup.cc), joins the init's namespaces through /proc/<pid>/ns
// (ns.cc's order), checks that the init is still the process the runtime
// named, and clones the child with CLONE_PARENT (and into the cgroup2 one,
// CLONE_INTO_CGROUP), so the child is inside the pid namespace and is the
// runtime's to wait for. The child sets the process up the way the init sets
// up its own, reports ready, waits for the commit byte, and keeps the socket
// open (close-on-exec) until execve: EOF tells the runtime the program
// started, a MSG_ERROR that it did not.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "init/fd.h"
#include "init/msg.h"
#include "init/pathres.h"
#include "init/plan.h"
#include "init/steps.h"

namespace ocirun::init {

namespace {

void check(bool ok) {
  if (!ok) die_report();
}

// The pid behind a pidfd, from its fdinfo; 0 when unknown.
pid_t pidfd_pid(int pidfd) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
  Fd fd(open(path, O_RDONLY | O_CLOEXEC));
  ssize_t n = fd.get() < 0 ? -1 : read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char* at = strstr(buf, "\nPid:");
  return at ? static_cast<pid_t>(atoi(at + 5)) : 0;
}

// The ns files were opened by path; if the init is still alive now, the pid
// could not have been reused in between, so they were its namespaces.
bool target_alive(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  int r;
  do r = poll(&p, 1, 0);
  while (r < 0 && errno == EINTR);
  if (r != 0) return fail_msg(ESRCH, "setns", "", "cannot exec in a stopped container");
  return true;
}

// Like runc, exec never creates the working directory. Resolved inside the
// container's root and entered by fd, so neither a symlink nor a magic link
// (/proc/self/fd/N of one of our fds) can lead out of it.
bool open_cwd(const Process& p, int* out) {
  Fd root(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) return fail(errno, "open", "/", "open root");
  int fd = open_in_root(root.get(), p.cwd, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail_msg(errno, "chdir", p.cwd, "chdir to cwd (\"" + p.cwd + "\") set in config.json failed");
  *out = fd;
  return true;
}

[[noreturn]] void child(const Plan& plan, int sync, int parent_pidfd, const std::vector<int>& extra) {
  close_cgroups();
  await_release(sync, parent_pidfd);
  // A session of its own, as runc gives every container process: job control
  // signals of the runtime's terminal are not the container's, and a terminal
  // can become its controlling one.
  if (setsid() < 0) check(fail(errno, "setsid", "", "start a session"));
  if (plan.has_namespace(CLONE_NEWUSER)) {
    check(become_userns_root());
    arm_parent_death(parent_pidfd);  // the credential change cleared it
  }
  close(parent_pidfd);

  const Process& proc = plan.process;
  if (plan.console_fd >= 0) check(setup_console(plan, false));
  check(apply_rlimits(proc));
  check(apply_process_attrs(proc));
  int cwd = -1;
  check(open_cwd(proc, &cwd));
  // Root may be refused where the user is not (root squashed by a user
  // namespace): then again after the credentials, as runc does.
  bool entered = fchdir(cwd) == 0;
  if (!entered && errno != EACCES) check(fail_msg(errno, "chdir", proc.cwd, "chdir to cwd (\"" + proc.cwd + "\") set in config.json failed"));
  std::string exe;
  check(find_executable(proc, &exe));

  check(send_ready());
  char commit = 0;
  ssize_t n;
  do n = read(kPlanFd, &commit, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1 || commit != 'c') _exit(1);
  // From here on the process is the runtime's child doing its own thing
  // (`exec -d` returns at once): it must survive the runtime.
  prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);

  // The socket moves above every extra fd, which are about to take 3, 4, ...;
  // now, while no seccomp filter can deny the fcntl.
  int top = 3 + static_cast<int>(extra.size());
  for (int fd : extra) top = std::max(top, fd + 1);
  int report = fcntl(kPlanFd, F_DUPFD_CLOEXEC, top);
  if (report < 0) check(fail(errno, "fcntl", "", "move the runtime's socket"));
  g_report_fd = report;

  check(fix_stdio_ownership(proc));
  check(apply_apparmor(proc));
  check(apply_selinux_label(proc));
  check(apply_final_affinity(proc));
  // As for the init: without no_new_privs only CAP_SYS_ADMIN may load a filter.
  if (!proc.no_new_privs) check(load_seccomp(proc, extra));
  check(apply_credentials(proc));
  if (!entered && fchdir(cwd) < 0)
    check(fail_msg(errno, "chdir", proc.cwd, "chdir to cwd (\"" + proc.cwd + "\") set in config.json failed"));
  if (proc.no_new_privs) check(load_seccomp(proc, extra));
  exec_user(proc, exe, extra, report);
}

}  // namespace

void exec_main(const Plan& plan, std::vector<int> extra) {
  if (!take_inherited_fd(&extra, plan.exec_target))
    check(fail_msg(EBADF, "fcntl", "", "plan: exec target is not an inherited descriptor"));
  check(apply_initial_affinity(plan.process));
  // Host paths and our host pid namespace: before joining anything. The
  // listener is told the container's init, as runc does for exec.
  check(connect_seccomp_listener(plan.process));
  check(prepare_seccomp(plan.process));
  check(note_seccomp_pid(plan.process, pidfd_pid(plan.exec_target)));
  pid_t parent = getppid();
  int parent_pidfd = static_cast<int>(syscall(SYS_pidfd_open, parent, 0));
  if (parent_pidfd < 0) check(fail(errno, "pidfd_open", "", "watch runtime process"));
  if (getppid() != parent) check(fail(ESRCH, "getppid", "", "runtime exited during setup"));
  check(apply_oom_score_adj(plan.process));

  // Before any namespace: host paths, judged by the kernel with host rights.
  // Stage 0 is single-threaded: "0" to tasks moves the whole of it.
  check(open_cgroups(plan));
  check(move_self(plan));
  check(place_init(plan, getpid()));
  // No mount namespace to join: the init's root, opened while /proc is still the host's.
  int root = -1;
  if (!plan.exec_root.empty()) {
    root = open(plan.exec_root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) check(fail(errno, "open", plan.exec_root, "open the container's root"));
  }
  check(join_namespaces(plan));
  if (root >= 0) {
    if (fchdir(root) < 0) check(fail(errno, "fchdir", plan.exec_root, "enter the container's root"));
    if (chroot(".") < 0) check(fail(errno, "chroot", plan.exec_root, "chroot into"));
    if (chdir("/") < 0) check(fail(errno, "chdir", "/", "enter"));
    close(root);
  }
  check(target_alive(plan.exec_target));
  close(plan.exec_target);

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    check(fail(errno, "socketpair", "", "create sync channel"));
  int pidfd = -1;
  pid_t pid = clone_init(plan, &pidfd, cgroup_dir_fd());
  if (pid < 0) die_report();
  if (pid > 0) close_cgroups();
  if (pid == 0) {
    close(sv[0]);
    child(plan, sv[1], parent_pidfd, extra);
  }
  close(sv[1]);
  debug("exec process is pid %d", pid);
  // The pid first, so the runtime can reap a child we fail to release.
  bool ok = send_pid(pid, pidfd);
  if (ok && send(sv[0], "g", 1, MSG_NOSIGNAL) != 1) ok = fail(errno, "send", "", "release the exec'd process");
  if (!ok) {
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    die_report();
  }
  _exit(0);
}

}  // namespace ocirun::init
