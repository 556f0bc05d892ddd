// Namespaces: joining, the time namespace offsets and clone3 of the
// container init (the id maps of a new user namespace: usermaps.cc).
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "init/msg.h"
#include "init/pathres.h"
#include "init/steps.h"

namespace ocirun::init {

namespace {

const char* ns_name(uint32_t type) {
  switch (type) {
    case CLONE_NEWUSER: return "user";
    case CLONE_NEWPID: return "pid";
    case CLONE_NEWNET: return "network";
    case CLONE_NEWNS: return "mount";
    case CLONE_NEWIPC: return "ipc";
    case CLONE_NEWUTS: return "uts";
    case CLONE_NEWCGROUP: return "cgroup";
    case CLONE_NEWTIME: return "time";
  }
  return "unknown";
}

bool join_one(const Namespace& ns, int fd) {
  if (setns(fd, static_cast<int>(ns.type)) < 0)
    return fail_msg(errno, "setns", ns.path, std::string("join ") + ns_name(ns.type) + " namespace");
  return true;
}

const char* file_kind(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFIFO: return "a fifo";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFSOCK: return "a socket";
    case S_IFDIR: return "a directory";
  }
  return "not a namespace file";
}

// A config may name any file as a namespace: open(O_RDONLY) would block
// forever on a fifo, and opening a device can have side effects. So look
// first through O_PATH (which opens nothing), reopen only a regular file
// (nsfs files are), and ask the kernel which namespace it is.
int open_namespace(const Namespace& ns) {
  const std::string what = std::string("join ") + ns_name(ns.type) + " namespace";
  int path_fd = open(ns.path.c_str(), O_PATH | O_CLOEXEC);
  if (path_fd < 0) return fail_msg(errno, "open", ns.path, what), -1;
  struct stat st;
  int fd = -1;
  if (fstat(path_fd, &st) < 0) {
    fail_msg(errno, "fstat", ns.path, what);
  } else if (!S_ISREG(st.st_mode)) {
    fail_msg(EINVAL, "open", ns.path, std::string(ns_name(ns.type)) + " namespace path " + ns.path + " is " + file_kind(st.st_mode) + ", not a namespace file");
  } else if ((fd = open(fd_path(path_fd).c_str(), O_RDONLY | O_CLOEXEC)) < 0) {
    fail_msg(errno, "open", ns.path, what);
  } else {
    int type = ioctl(fd, NS_GET_NSTYPE);
    if (type != static_cast<int>(ns.type)) {
      fail_msg(EINVAL, "ioctl", ns.path, std::string(ns_name(ns.type)) + " namespace path " + ns.path + " is " +
               (type < 0 ? std::string("not a namespace file") : std::string("a ") + ns_name(static_cast<uint32_t>(type)) + " namespace"));
      close(fd);
      fd = -1;
    }
  }
  close(path_fd);
  return fd;
}

}  // namespace

bool write_once(const std::string& path, const std::string& data, const char* what) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail(errno, "open", path, what);
  // One write: id maps and time offsets can only be written once.
  ssize_t n = write(fd, data.data(), data.size());
  int e = errno;
  close(fd);
  if (n < 0) return fail(e, "write", path, what);
  if (static_cast<size_t>(n) != data.size()) return fail(EIO, "write", path, what);
  return true;
}

bool join_namespaces(const Plan& plan) {
  // Open every path first, with our host credentials: once we are in a
  // container's user namespace, /proc/<pid>/ns of its (non-dumpable) init is
  // no longer ours to open.
  std::vector<int> fds(plan.namespaces.size(), -1);
  auto close_all = [&fds] { for (int fd : fds) if (fd >= 0) close(fd); };
  for (size_t i = 0; i < plan.namespaces.size(); i++) {
    const auto& ns = plan.namespaces[i];
    if (!ns.join) continue;
    fds[i] = open_namespace(ns);
    if (fds[i] < 0) {
      close_all();
      return false;
    }
  }
  // Host root may enter any namespace, but not once it is inside a container's
  // user namespace: one owned by the host's (a time namespace ocirun made, say)
  // is then out of reach. So everything else first, the user namespace last,
  // and only what failed for lack of privilege again from inside it (crun's way).
  std::vector<size_t> retry;
  bool ok = true;
  for (size_t i = 0; ok && i < plan.namespaces.size(); i++) {
    if (fds[i] < 0 || plan.namespaces[i].type == CLONE_NEWUSER) continue;
    if (setns(fds[i], static_cast<int>(plan.namespaces[i].type)) == 0) continue;
    if (errno == EPERM) retry.push_back(i);
    else ok = join_one(plan.namespaces[i], fds[i]);
  }
  for (size_t i = 0; ok && i < plan.namespaces.size(); i++)
    if (fds[i] >= 0 && plan.namespaces[i].type == CLONE_NEWUSER) ok = join_one(plan.namespaces[i], fds[i]);
  for (size_t i : retry)
    if (ok) ok = join_one(plan.namespaces[i], fds[i]);
  close_all();
  return ok;
}

bool setup_time_namespace(const Plan& plan) {
  if (!(plan.new_namespaces() & CLONE_NEWTIME)) return true;
  // unshare(CLONE_NEWTIME) only affects children, and the offsets can be set
  // until the first process enters: that is the child we clone next.
  if (unshare(CLONE_NEWTIME) < 0) return fail(errno, "unshare", "", "create time namespace");
  if (plan.time_offsets.empty()) return true;
  std::string s;
  char line[96];
  for (const auto& t : plan.time_offsets) {
    snprintf(line, sizeof line, "%s %lld %u\n", t.clock == CLOCK_MONOTONIC ? "monotonic" : "boottime",
             static_cast<long long>(t.secs), t.nanos);
    s += line;
  }
  return write_once("/proc/self/timens_offsets", s, "set time namespace offsets");
}

pid_t clone_init(const Plan& plan, int* pidfd, int cgroup_fd) {
  clone_args args{};
  int fd = -1;
  // Time is excluded: it was unshared above and the child enters it anyway.
  uint64_t fresh = plan.new_namespaces() & ~static_cast<uint64_t>(CLONE_NEWTIME);
  // Placed in a cgroup, the init makes its cgroup namespace itself once it is there (cgroup.cc).
  if (plan.places_cgroup()) fresh &= ~static_cast<uint64_t>(CLONE_NEWCGROUP);
  args.flags = CLONE_PARENT | CLONE_PIDFD | fresh;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
  }
  args.pidfd = reinterpret_cast<uint64_t>(&fd);
  // With CLONE_PARENT the kernel demands exit_signal 0 and gives the child our
  // own exit signal (SIGCHLD), so the runtime can waitpid() it.
  args.exit_signal = 0;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) return fail(errno, "clone3", "", "create container init"), -1;
  if (pid == 0) return 0;
  *pidfd = fd;
  return static_cast<pid_t>(pid);
}

}  // namespace ocirun::init
