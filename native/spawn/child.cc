#include "spawn/child.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "common/protocol.h"
#include "spawn/vfork.h"

#ifndef SYS_close_range
#define SYS_close_range 436
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

  ChildResetSignals();

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

  ChildUnblockSignals();
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

  auto entry = [](void* arg) -> int { ChildMain(*static_cast<const ChildSpec*>(arg)); };
  return CloneVfork(entry, &spec, &out->pid, &out->pidfd, "starting the init helper", err);
}

}  // namespace ocirun
