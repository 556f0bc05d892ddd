// RunSpawn (spawn/spawn.h).
#include "spawn/spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "common/protocol.h"
#include "common/timing.h"
#include "spawn/child.h"
#include "spawn/memfd.h"
#include "spawn/records.h"

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

namespace ocirun {
namespace {
namespace proto = ocirun::proto;

// How long a helper that closed its socket gets to exit on its own before we
// kill it; it has nothing left to do, so this only matters for a broken helper.
constexpr int kExitGraceMs = 2000;

void Mark(const SpawnRequest& req, SpawnOutcome* out, uint32_t phase) {
  if (!req.timing) return;
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  out->marks.emplace_back(phase, uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec));
}

// One of our children: the helper's stage 0 or the container init.
struct Child {
  pid_t pid = -1;
  int pidfd = -1;  // borrowed
  bool reaped = false;
};

void Kill(const Child& c) {
  // The pid cannot be recycled while it is our unreaped child, so kill() is a
  // safe fallback when there is no pidfd.
  if (c.pidfd >= 0 && syscall(SYS_pidfd_send_signal, c.pidfd, SIGKILL, nullptr, 0) == 0) return;
  kill(c.pid, SIGKILL);
}

bool WaitFor(const Child& c, int timeout_ms) {
  if (c.pidfd >= 0) {
    pollfd p{c.pidfd, POLLIN, 0};
    int r;
    do r = poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    return r > 0;
  }
  for (int waited = 0; waited < timeout_ms; waited += 10) {
    siginfo_t si{};
    if (waitid(P_PID, id_t(c.pid), &si, WEXITED | WNOHANG | WNOWAIT | __WALL) < 0 || si.si_pid != 0) return true;
    timespec ts{0, 10 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  return false;
}

// Reaps c, killing it first when it has not exited within grace_ms. Returns
// the wait status, or -1 when it was not our child. *killed tells whether the
// status is our doing.
int Reap(Child& c, int grace_ms, bool* killed = nullptr) {
  if (killed) *killed = false;
  if (c.reaped || c.pid <= 0) return -1;
  if (grace_ms == 0 || !WaitFor(c, grace_ms)) {
    int status;
    pid_t r = waitpid(c.pid, &status, WNOHANG | __WALL);
    if (r == c.pid) {
      c.reaped = true;
      return status;
    }
    Kill(c);
    if (killed) *killed = true;
  }
  int status;
  pid_t r;
  do r = waitpid(c.pid, &status, __WALL);
  while (r < 0 && errno == EINTR);
  c.reaped = true;
  if (r == c.pid) return status;
  // Not our child (a helper that did not use CLONE_PARENT): at least make sure
  // it is gone before we report the failure.
  if (c.pidfd >= 0) WaitFor(c, 1000);
  return -1;
}

std::string DescribeStatus(int status) {
  if (status < 0) return "status unknown";
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* abbrev = sigabbrev_np(WTERMSIG(status));
    return "killed by signal " + std::to_string(WTERMSIG(status)) + (abbrev ? std::string(" SIG") + abbrev : "");
  }
  return "status " + std::to_string(status);
}

bool CheckFd(int fd, const char* what, SysError* err) {
  if (fcntl(fd, F_GETFD) >= 0) return true;
  *err = SysError::Errno(errno, "fcntl", {}, std::string(what) + " " + std::to_string(fd) + " is not usable");
  return false;
}

}  // namespace

bool RunSpawn(const SpawnRequest& req, SpawnOutcome* out, SysError* err) {
  Mark(req, out, timing::SPAWN_BEGIN);
  for (size_t i = 0; i < req.fds.size(); i++) {
    if (!CheckFd(req.fds[i], i < 3 ? "stdio fd" : "extra fd", err)) return false;
  }
  UniqueFd memfd;
  if (!SealedHelper(req.helper, &memfd, err)) return false;
  Mark(req, out, timing::HELPER_SEALED);

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    *err = SysError::Errno(errno, "socketpair", {}, "starting the init helper");
    return false;
  }
  UniqueFd sock(sv[0]), child_end(sv[1]);

  std::vector<int> fds(req.fds.begin(), req.fds.begin() + 3);
  fds.push_back(child_end.get());
  fds.insert(fds.end(), req.fds.begin() + 3, req.fds.end());
  HelperProcess helper;
  if (!StartHelper(memfd.get(), fds, req.helper, &helper, err)) return false;
  Mark(req, out, timing::HELPER_STARTED);
  // Our copy of the child's end must go now, or EOF could never arrive.
  child_end.reset();
  memfd.reset();

  Child stage0{helper.pid, helper.pidfd.get()};
  Child init;
  UniqueFd init_pidfd;
  bool ready = false;
  SysError failure;
  bool failed = false;

  int send_errno = SendPlan(sock.get(), req.plan.data(), req.plan.size());
  MessageReader reader(sock.get());
  while (!ready && !failed) {
    HelperMessage msg;
    SysError read_err;
    MessageReader::Result r = reader.Next(&msg, &read_err);
    // A rejected MSG_PID still names a process we must not leave behind.
    if (msg.tag == proto::MSG_PID && msg.pid > 0 && init.pid <= 0) {
      init.pid = msg.pid;
      init_pidfd = std::move(msg.pidfd);
      init.pidfd = init_pidfd.get();
      if (r == MessageReader::kMessage) continue;
    } else if (msg.tag == proto::MSG_PID && r == MessageReader::kMessage) {
      read_err = SysError::Plain("init helper protocol error: more than one MSG_PID");
      r = MessageReader::kFailed;
    }
    if (r == MessageReader::kEof) break;
    if (r == MessageReader::kFailed) {
      failure = read_err;
      failed = true;
    } else if (msg.tag == proto::MSG_WARNING) {
      out->warnings.push_back(std::move(msg.text));
    } else if (msg.tag == proto::MSG_ERROR) {
      failure = msg.error;
      failed = true;
    } else if (msg.tag == proto::MSG_READY) {
      ready = true;
      Mark(req, out, timing::READY_RECEIVED);
    } else if (msg.tag == proto::MSG_TIMING) {
      out->marks.insert(out->marks.end(), msg.marks.begin(), msg.marks.end());
    } else if (msg.tag == proto::MSG_HOOKS) {
      if (!req.hooks || init.pid <= 0) {
        failure = SysError::Plain("init helper protocol error: unexpected MSG_HOOKS");
        failed = true;
      } else if (!req.hooks->Notify(init.pid, sock.get(), &failure)) {
        failed = true;
      }
    }
  }

  if (ready && init.pid <= 0) {
    failure = SysError::Plain("init helper protocol error: MSG_READY before MSG_PID");
    failed = true;
  } else if (ready && send_errno != 0) {
    failure = SysError::Errno(send_errno, "sendmsg", {}, "sending the plan to the init helper");
    failed = true;
  } else if (!ready && !failed) {
    failed = true;
    if (send_errno != 0 && send_errno != EPIPE && send_errno != ECONNRESET) {
      failure = SysError::Errno(send_errno, "sendmsg", {}, "sending the plan to the init helper");
    } else {
      // EOF without a word: say which process died and how, since that is all
      // there is to go on.
      bool killed = false;
      int status = Reap(stage0, kExitGraceMs, &killed);
      init.reaped = init.reaped || init.pid == stage0.pid;
      std::string what = killed ? "init helper closed its socket but did not exit"
                                : "init helper exited unexpectedly (" + DescribeStatus(status) + ")";
      if (!killed && status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && !init.reaped) {
        int init_status = Reap(init, kExitGraceMs, &killed);
        if (!killed && init_status >= 0) {
          what = "container init exited during setup (" + DescribeStatus(init_status) + ")";
        }
      }
      failure = SysError::Plain(what);
    }
  }

  // Stage 0 exits right after MSG_PID. A helper that is itself the init
  // (no separate stage 0) is left running, as the init must be.
  if (!failed && stage0.pid != init.pid) {
    bool killed = false;
    int status = Reap(stage0, kExitGraceMs, &killed);
    if (killed || status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      failure = SysError::Plain(killed ? "init helper did not exit after setup"
                                       : "init helper failed after setup (" + DescribeStatus(status) + ")");
      failed = true;
    }
  }

  if (failed) {
    sock.reset();
    // Nothing may outlive a failed create: kill and reap the init first (it
    // may be stage 0 itself), then stage 0.
    Reap(init, 0);
    if (init.pid == stage0.pid) stage0.reaped = true;
    Reap(stage0, 0);
    *err = failure;
    return false;
  }
  out->pid = init.pid;
  out->pidfd = std::move(init_pidfd);
  // The init keeps its parent-death signal until the runtime has recorded it
  // and writes the commit byte here: a runtime killed in between takes the
  // init with it instead of leaving a container nobody knows about.
  out->control = std::move(sock);
  return true;
}

}  // namespace ocirun
