// CloneVfork (spawn/vfork.h).
#include "spawn/vfork.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

namespace ocirun {

namespace {
constexpr long kSigsetSize = (_NSIG - 1) / 8;
}  // namespace

bool CloneVfork(int (*fn)(void*), void* arg, pid_t* pid, UniqueFd* pidfd, const char* what, SysError* err) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  constexpr size_t kGuard = 4096, kStack = 64 * 1024;
  void* mem = mmap(nullptr, kGuard + kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (mem == MAP_FAILED) {
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    *err = SysError::Errno(e, "mmap", {}, what);
    return false;
  }
  mprotect(mem, kGuard, PROT_NONE);  // an overflow faults instead of writing over our heap
  char* stack_top = static_cast<char*>(mem) + kGuard + kStack;
  int fd = -1;
  long r = clone(fn, stack_top, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, arg, &fd);
  // Kernels before 5.2 know no CLONE_PIDFD.
  bool no_pidfd = r < 0 && errno == EINVAL;
  if (no_pidfd) r = clone(fn, stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, arg);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  // The child has exec'd or exited by now: its stack is free.
  munmap(mem, kGuard + kStack);
  if (r < 0) {
    *err = SysError::Errno(clone_errno, "clone", {}, what);
    return false;
  }
  if (no_pidfd) fd = int(syscall(SYS_pidfd_open, r, 0));  // CLOEXEC by definition; -1 is tolerated
  *pid = pid_t(r);
  pidfd->reset(fd);
  return true;
}

void ChildResetSignals() {
  // An all-zero kernel sigaction is SIG_DFL with no flags on every ABI.
  unsigned long zero_action[8] = {};
  for (int sig = 1; sig < _NSIG; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, zero_action, nullptr, kSigsetSize);
  }
}

void ChildUnblockSignals() {
  unsigned long empty_mask[2] = {};
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, empty_mask, nullptr, kSigsetSize);
}

}  // namespace ocirun
