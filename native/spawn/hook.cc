// StartHook (spawn/hook.h).
#include "spawn/hook.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>

#include "spawn/vfork.h"

namespace ocirun {
namespace {

// Everything the child needs, made before the clone: with CLONE_VM the child
// must not allocate (another thread may hold the malloc lock).
struct HookChild {
  int in;
  int out;
  const char* path;
  char* const* argv;
  char* const* envp;
  int failed_errno = 0;  // written by the child (shared memory) when it cannot exec
  const char* failed_call = nullptr;
};

long Sys(long nr, long a = 0, long b = 0, long c = 0, long d = 0) {
  long r = syscall(nr, a, b, c, d);
  return r < 0 ? -errno : r;
}

[[noreturn]] void Fail(HookChild* c, const char* call, long r) {
  c->failed_errno = int(-r);
  c->failed_call = call;
  Sys(SYS_exit_group, 127);
  __builtin_unreachable();
}

// Raw system calls only: this runs on the parent's memory until execve.
int ChildMain(void* arg) {
  auto* c = static_cast<HookChild*>(arg);
  ChildResetSignals();
  long r = Sys(SYS_setpgid, 0, 0);
  if (r < 0) Fail(c, "setpgid", r);
  // Park both above 2 first: either may itself be 0, 1 or 2 in a process that closed its stdio.
  long in = Sys(SYS_fcntl, c->in, F_DUPFD_CLOEXEC, 3);
  if (in < 0) Fail(c, "fcntl", in);
  long out = Sys(SYS_fcntl, c->out, F_DUPFD_CLOEXEC, 3);
  if (out < 0) Fail(c, "fcntl", out);
  for (auto [from, to] : {std::pair<long, long>{in, 0}, {out, 1}, {out, 2}}) {
    r = Sys(SYS_dup3, from, to, 0);
    if (r < 0) Fail(c, "dup3", r);
  }
  r = Sys(SYS_close_range, 3, ~0U, 0);
  if (r < 0) Fail(c, "close_range", r);
  // The front end blocks what it forwards; the hook gets none of that.
  ChildUnblockSignals();
  r = Sys(SYS_execve, long(c->path), long(c->argv), long(c->envp));
  Fail(c, "execve", r);
}

std::vector<char*> CStrings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

bool StartHook(const HookCommand& cmd, HookProcess* out, SysError* err) {
  UniqueFd in(memfd_create("ocirun-hook-state", MFD_CLOEXEC));
  if (!in.valid()) {
    *err = SysError::Errno(errno, "memfd_create", {}, "passing the state to the hook");
    return false;
  }
  for (size_t off = 0; off < cmd.state.size();) {
    ssize_t n = write(in.get(), cmd.state.data() + off, cmd.state.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *err = SysError::Errno(n < 0 ? errno : EIO, "write", {}, "passing the state to the hook");
      return false;
    }
    off += size_t(n);
  }
  if (lseek(in.get(), 0, SEEK_SET) < 0) {
    *err = SysError::Errno(errno, "lseek", {}, "passing the state to the hook");
    return false;
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) < 0) {
    *err = SysError::Errno(errno, "pipe2", {}, "capturing the hook's output");
    return false;
  }
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);

  std::vector<char*> argv = CStrings(cmd.argv), envp = CStrings(cmd.env);
  HookChild child{in.get(), write_end.get(), cmd.path.c_str(), argv.data(), envp.data()};

  // CLONE_VFORK: we resume once the child has exec'd or exited, so its verdict is in `child`.
  pid_t pid;
  UniqueFd pidfd;
  if (!CloneVfork(ChildMain, &child, &pid, &pidfd, "starting the hook", err)) return false;
  if (child.failed_errno != 0) {
    int status;
    while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {
    }
    *err = SysError::Errno(child.failed_errno, child.failed_call, cmd.path, "starting the hook");
    return false;
  }
  out->pid = pid;
  out->pidfd = std::move(pidfd);
  out->output = std::move(read_end);
  return true;
}

}  // namespace ocirun
