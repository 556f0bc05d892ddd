#include "spawn/child.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "common/protocol.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

namespace ocirun {
namespace {

namespace proto = ocirun::proto;

// Everything the child needs, computed before the clone: the child must not
// allocate (another thread may have held the malloc lock at clone time).
struct ChildSpec {
  const int* fds;
  int* high;  // scratch, nfds entries
  int nfds;
  int memfd;
  const char* path;
  size_t path_len;
  const char* const* argv;
  const char* const* envp;
};

// ---- child side: raw syscalls only, no errno-dependent libc state ---------

long Sys(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) {
  long r = syscall(nr, a, b, c, d, e);
  return r < 0 ? -errno : r;  // the suspended parent thread's TLS slot (CLONE_VM): ours to use until exec
}

struct RecordBuf {
  char data[4096 + 256];
  size_t len = 0;
  void Bytes(const void* p, size_t n) {
    if (n > sizeof data - len) n = sizeof data - len;
    const char* s = static_cast<const char*>(p);
    for (size_t i = 0; i < n; i++) data[len++] = s[i];
  }
  void Header(uint16_t tag, uint32_t length) {
    proto::RecordHeader h{tag, 0, length};
    Bytes(&h, sizeof h);
  }
  void String(uint16_t tag, const char* s, size_t n) {
    Header(tag, uint32_t(n));
    Bytes(s, n);
  }
};

size_t Strlen(const char* s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

[[noreturn]] void ChildFail(int sock, const ChildSpec& spec, const char* syscall_name, int err) {
  static const char kMessage[] = "starting the init helper";
  size_t path_len = spec.path_len > 4096 ? 4096 : spec.path_len;
  size_t sc_len = Strlen(syscall_name);
  uint32_t body = uint32_t(sizeof(proto::RecordHeader) * 4 + 4 + sc_len + path_len + sizeof kMessage - 1);
  RecordBuf rec;
  rec.Header(proto::MSG_ERROR, body);
  uint32_t e = uint32_t(err);
  rec.Header(proto::E_ERRNO, 4);
  rec.Bytes(&e, 4);  // little-endian == host order on every Linux target we build for
  rec.String(proto::E_SYSCALL, syscall_name, sc_len);
  rec.String(proto::E_PATH, spec.path, path_len);
  rec.String(proto::E_MESSAGE, kMessage, sizeof kMessage - 1);
  for (size_t off = 0; off < rec.len;) {
    long n = Sys(SYS_write, sock, long(rec.data + off), long(rec.len - off));
    if (n == -EINTR) continue;
    if (n <= 0) break;
    off += size_t(n);
  }
  Sys(SYS_exit_group, 127);
  __builtin_unreachable();
}

// close_range() arrived in 5.9; before that walk /proc/self/fd with getdents64.
int CloseAllExcept(int from, int keep) {
  long r = 0;
  if (keep > from) r = Sys(SYS_close_range, from, keep - 1, 0);
  if (r == 0) r = Sys(SYS_close_range, keep + 1, ~0U, 0);
  if (r != -ENOSYS) return int(r);

  int dir = int(Sys(SYS_openat, AT_FDCWD, long("/proc/self/fd"), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir < 0) return dir;
  alignas(8) char buf[4096];
  for (;;) {
    long n = Sys(SYS_getdents64, dir, long(buf), sizeof buf);
    if (n <= 0) {
      Sys(SYS_close, dir);
      return int(n);
    }
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(buf + off);
      off += d->d_reclen;
      int fd = 0;
      bool numeric = d->d_name[0] != 0;
      for (const char* p = d->d_name; *p; p++) {
        if (*p < '0' || *p > '9') numeric = false;
        else fd = fd * 10 + (*p - '0');
      }
      if (numeric && fd >= from && fd != keep && fd != dir) Sys(SYS_close, fd);
    }
  }
}

[[noreturn]] void ChildMain(const ChildSpec& spec) {
  int sock = spec.fds[3];

  // Node ignores SIGPIPE and exec keeps ignored dispositions and the mask, so
  // reset every signal explicitly (raw syscall: glibc hides 32/33 and refuses
  // them). An all-zero kernel sigaction is SIG_DFL with no flags on every ABI.
  unsigned long zero_action[8] = {};
  constexpr long kSigsetSize = (_NSIG - 1) / 8;
  for (int sig = 1; sig < _NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    Sys(SYS_rt_sigaction, sig, long(zero_action), 0, kSigsetSize);
  }

  // Park every source on a CLOEXEC copy above all sources and targets first, so
  // that a source that is also someone's target (0 <-> 1, or an extra fd that
  // happens to be 5) is never clobbered before it has been copied.
  int base = spec.nfds;
  for (int i = 0; i < spec.nfds; i++) base = spec.fds[i] >= base ? spec.fds[i] + 1 : base;
  if (spec.memfd >= base) base = spec.memfd + 1;
  int* high = spec.high;
  for (int i = 0; i < spec.nfds; i++) {
    long r = Sys(SYS_fcntl, spec.fds[i], F_DUPFD_CLOEXEC, base);
    if (r < 0) ChildFail(sock, spec, "fcntl", int(-r));
    high[i] = int(r);
  }
  sock = high[3];
  long mem = Sys(SYS_fcntl, spec.memfd, F_DUPFD_CLOEXEC, base);
  if (mem < 0) ChildFail(sock, spec, "fcntl", int(-mem));

  // dup3 with no flags leaves the targets without CLOEXEC.
  for (int i = 0; i < spec.nfds; i++) {
    long r = Sys(SYS_dup3, high[i], i, 0);
    if (r < 0) ChildFail(sock, spec, "dup3", int(-r));
  }
  sock = 3;
  // The memfd copy stays open (it is CLOEXEC, so exec itself closes it).
  int r = CloseAllExcept(spec.nfds, int(mem));
  if (r < 0) ChildFail(sock, spec, "close_range", -r);

  unsigned long empty_mask[2] = {};
  Sys(SYS_rt_sigprocmask, SIG_SETMASK, long(empty_mask), 0, kSigsetSize);
  long e = Sys(SYS_execveat, mem, long(""), long(spec.argv), long(spec.envp), AT_EMPTY_PATH);
  ChildFail(sock, spec, "execveat", int(-e));
}

}  // namespace

// ---- parent side ------------------------------------------------------------

bool StartHelper(int memfd, const std::vector<int>& fds, const std::string& helper_path, HelperProcess* out,
                 SysError* err) {
  static const char* const kArgv[] = {"ocirun-init", nullptr};
  static const char* const kEnvp[] = {nullptr};
  std::vector<int> scratch(fds.size());
  ChildSpec spec{fds.data(), scratch.data(), int(fds.size()), memfd,
                 helper_path.c_str(), helper_path.size(), kArgv, kEnvp};

  // Block everything so no handler of Node's runs in the child before the
  // child has reset the dispositions (the child inherits this mask).
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);

  // vfork-style, as posix_spawn does: the child shares our memory (CLONE_VM)
  // on a stack of its own while this thread waits for its exec (CLONE_VFORK).
  // A plain fork would copy the page tables of all of Node's heap and make
  // every page Node then writes fault once: measured ~2 ms of CPU per
  // container, a quarter of the API's lifecycle (docs/performance.md).
  // clone(), not clone3: seccomp profiles (Docker's default among them)
  // answer ENOSYS for clone3.
  constexpr size_t kGuard = 4096, kStack = 64 * 1024;
  void* mem = mmap(nullptr, kGuard + kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (mem == MAP_FAILED) {
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    *err = SysError::Errno(e, "mmap", {}, "starting the init helper");
    return false;
  }
  mprotect(mem, kGuard, PROT_NONE);  // an overflow faults instead of writing over our heap
  char* stack_top = static_cast<char*>(mem) + kGuard + kStack;
  auto entry = [](void* arg) -> int { ChildMain(*static_cast<const ChildSpec*>(arg)); };
  int pidfd = -1;
  long pid = clone(entry, stack_top, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &spec, &pidfd);
  // Kernels before 5.2 know no CLONE_PIDFD.
  bool no_pidfd = pid < 0 && errno == EINVAL;
  if (no_pidfd) pid = clone(entry, stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, &spec);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  // The child has exec'd or exited by now: its stack is free.
  munmap(mem, kGuard + kStack);

  if (pid < 0) {
    *err = SysError::Errno(clone_errno, "clone", {}, "starting the init helper");
    return false;
  }
  if (no_pidfd) pidfd = int(syscall(SYS_pidfd_open, pid, 0));  // CLOEXEC by definition; -1 is tolerated
  out->pid = pid_t(pid);
  out->pidfd.reset(pidfd);
  return true;
}

}  // namespace ocirun
