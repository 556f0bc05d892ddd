// ocirun-init: builds one container from the plan on fd 3.
//
// Stage 0 runs in the runtime's namespaces: joins namespaces, clones the
// container init into the new ones (as a sibling, child of the runtime), writes
// its id maps, reports its pid and exits. Stage 1 is that init: it builds the
// root filesystem, reports ready, blocks on exec.fifo until `start`, then drops
// privileges and execs the user program.
//
// Exit codes: 0 stage 0 done; 1 setup failure (reported as MSG_ERROR while
// fd 3 is open, on stderr after start); 127 execve failed.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/timing.h"
#include "init/msg.h"
#include "init/plan.h"
#include "init/steps.h"
#include "init/timing.h"

using namespace ocirun::init;
namespace timing = ocirun::timing;

namespace {

void check(bool ok) {
  if (!ok) die_report();
}

[[noreturn]] void stage1(const Plan& plan, int sync, int parent_pidfd, int statedirfd,
                         const std::vector<int>& extra) {
  await_release(sync, parent_pidfd, (plan.new_namespaces() & CLONE_NEWUSER) != 0);
  check(move_self(plan));
  close_cgroups();
  // A session of its own, as runc gives every container process: the
  // runtime's terminal is not the container's, and a pty can become its
  // controlling terminal.
  if (setsid() < 0) check(fail(errno, "setsid", "", "start a session"));

  // New or joined: without a mapped uid we could not even create files there.
  if (plan.has_namespace(CLONE_NEWUSER)) {
    check(become_userns_root());
    // The credential change cleared the death signal.
    arm_parent_death(parent_pidfd);
  }
  close(parent_pidfd);
  // In its cgroups now (stage 0 saw to it before the 'g'), and root in its user namespace.
  check(enter_cgroup_namespace(plan));
  debug("init running");
  mark(timing::INIT_RUNNING);

  if (plan.has_hostname && sethostname(plan.hostname.data(), plan.hostname.size()) < 0)
    check(fail(errno, "sethostname", "", "set hostname"));
  if (plan.has_domainname && setdomainname(plan.domainname.data(), plan.domainname.size()) < 0)
    check(fail(errno, "setdomainname", "", "set domainname"));
  check(bring_up_loopback(plan));

  // While /proc is still the runtime's: the listener is told our pid there.
  check(note_seccomp_pid(plan.process));
  int rootfd = -1;
  check(prepare_root(plan, &rootfd));
  mark(timing::ROOT_PREPARED);
  check(do_mounts(plan, rootfd));
  mark(timing::MOUNTS_DONE);
  check(create_devices(plan, rootfd));
  check(create_symlinks(plan, rootfd));
  mark(timing::DEVICES_DONE);
  // prestart/createRuntime (the runtime, on MSG_HOOKS), then createContainer.
  check(create_hooks(plan));
  check(pivot(plan, rootfd));
  close(rootfd);
  mark(timing::PIVOTED);
  // Before anything is made read-only: /dev/console is bound to the pty.
  if (plan.console_fd >= 0) check(setup_console(plan, true));
  // Sysctls before the read-only paths: /proc/sys is usually one of them.
  check(write_sysctls(plan));
  check(readonly_paths(plan));
  check(mask_paths(plan));
  check(finalize_root(plan));
  mark(timing::HARDENED);

  const Process& proc = plan.process;
  check(apply_rlimits(proc));
  // After the rlimits: RLIMIT_RTPRIO and RLIMIT_NICE decide what an unprivileged scheduler change may do.
  check(apply_process_attrs(proc));
  check(enter_cwd(proc));
  std::string exe;
  check(find_executable(proc, &exe));
  mark(timing::EXEC_RESOLVED);

  send_timing();
  // Stay tied to the runtime until it has recorded us: it writes 'c' once our
  // pid is in state.json. The death signal must go first, before MSG_READY:
  // the CLI may commit and exit before we are scheduled again, and a signal
  // still armed then would kill us. From here the tie is the socket: if the
  // runtime dies before committing, we read EOF and exit, leaving no
  // container its state directory does not know about.
  prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  check(send_ready());
  char commit = 0;
  ssize_t got;
  do got = read(kPlanFd, &commit, 1);
  while (got < 0 && errno == EINTR);
  if (got != 1 || commit != 'c') _exit(1);
  close(kPlanFd);
  debug("ready, waiting for start");
  if (!wait_for_start(statedirfd, plan)) _exit(1);
  close(statedirfd);

  if (!fix_stdio_ownership(proc)) die_stderr(1);
  if (!apply_apparmor(proc) || !apply_selinux_label(proc) || !apply_final_affinity(proc)) die_stderr(1);
  // Without no_new_privs only CAP_SYS_ADMIN may load a filter, so it goes in
  // before the capabilities are dropped; otherwise as late as possible (runc).
  if (!proc.no_new_privs && !load_seccomp(proc, extra)) die_stderr(1);
  if (!apply_credentials(proc)) die_stderr(1);
  if (proc.no_new_privs && !load_seccomp(proc, extra)) die_stderr(1);
  exec_user(proc, exe, extra);
}

[[noreturn]] void stage0(const Plan& plan, const std::vector<int>& extra) {
  // Before joining anything: these are the runtime's paths and processes, and
  // our host credentials are what may open them. In particular a container root
  // mapped to an unprivileged host uid can still reach exec.fifo through this fd.
  int statedirfd = open(plan.state_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (statedirfd < 0) check(fail(errno, "open", plan.state_dir, "open state directory"));
  check(open_cgroups(plan));
  check(apply_initial_affinity(plan.process));
  // The listener path is a host path, reachable with our host credentials.
  check(connect_seccomp_listener(plan.process));
  // Here so that a bad profile fails create, with the credentials the filter cache needs.
  check(prepare_seccomp(plan.process));
  pid_t parent = getppid();
  int parent_pidfd = static_cast<int>(syscall(SYS_pidfd_open, parent, 0));
  if (parent_pidfd < 0) check(fail(errno, "pidfd_open", "", "watch runtime process"));
  if (getppid() != parent) check(fail(ESRCH, "getppid", "", "runtime exited during setup"));
  // Inherited by the init. Written here because, once the init has switched to
  // a user namespace uid, its /proc files are no longer writable by it.
  check(apply_oom_score_adj(plan.process));

  // With the runtime's user and mount namespaces: only they can id-map host mounts.
  check(prepare_idmap_mounts(plan));
  check(join_namespaces(plan));
  check(setup_time_namespace(plan));
  mark(timing::NAMESPACES_JOINED);
  send_timing();  // now, or the init would inherit these marks and send them again

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    check(fail(errno, "socketpair", "", "create sync channel"));

  int pidfd = -1;
  pid_t pid = clone_init(plan, &pidfd, cgroup_dir_fd());
  if (pid < 0) die_report();
  if (pid == 0) {
    close(sv[0]);
    stage1(plan, sv[1], parent_pidfd, statedirfd, extra);
  }
  close(sv[1]);
  mark(timing::INIT_CLONED);
  debug("init is pid %d", pid);
  // The pid goes out before anything else can fail, so that the runtime can
  // reap the init we kill on failure (it is the runtime's child, not ours).
  bool ok = send_pid(pid, pidfd) && place_init(plan, pid) && write_id_maps(plan, pid);
  mark(timing::ID_MAPPED);
  send_timing();  // before the init is released, so the two never write at once
  // MSG_NOSIGNAL: an init that already died must not take us down silently.
  if (ok && send(sv[0], "g", 1, MSG_NOSIGNAL) != 1) ok = fail(errno, "send", "", "release container init");
  if (!ok) {
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    die_report();
  }
  _exit(0);
}

// `ocirun-init --print-plan`: decode the plan on stdin and print back what was
// read (test/unit/plan-roundtrip.test.ts), or the error; touches nothing else.
int print_plan_mode() {
  Plan plan;
  std::vector<uint8_t> bytes;
  if (!read_plan(0, &bytes) || !decode_plan(bytes, &plan)) {
    std::string line = last_failure().message + '\n';
    write_all(2, line.data(), line.size());
    return 1;
  }
  std::string out = print_plan(plan) + '\n';
  return write_all(1, out.data(), out.size()) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "--print-plan") == 0) return print_plan_mode();
  const uint64_t entered = monotonic_ns();
  // Exec'd from a memfd, our comm would read "memfd:ocirun-in"; ps and tests look for this.
  prctl(PR_SET_NAME, "ocirun-init", 0, 0, 0);
  // Before we open anything: whatever is open now beyond 0-3 is for the container.
  std::vector<int> extra = inherited_extra_fds();
  // A closed stdio slot would be reused by our own opens and leak into the container.
  for (int fd = 0; fd < kPlanFd; fd++)
    if (fcntl(fd, F_GETFD) < 0) check(fail(EBADF, "fcntl", "", "stdio descriptor is not open"));
  Plan plan;
  {
    std::vector<uint8_t> bytes;
    check(read_plan(kPlanFd, &bytes));
    check(decode_plan(bytes, &plan));
  }
  check(check_plan_ids(plan));
  g_debug = plan.debug;
  g_timing = plan.timing;
  mark_at(timing::HELPER_MAIN, entered);
  mark(timing::PLAN_DECODED);
  if (plan.console_fd >= 0 && !take_inherited_fd(&extra, plan.console_fd))
    check(fail_msg(EBADF, "fcntl", "", "plan: the console socket is not an inherited descriptor"));
  if (plan.exec_mode()) exec_main(plan, std::move(extra));
  stage0(plan, extra);
}
