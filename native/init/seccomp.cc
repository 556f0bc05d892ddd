// seccomp: libseccomp turns the profile into classic BPF in stage 0 (so a bad
// rule fails `create`, not the started container, and the result can be kept
// in the compiled-filter cache, see seccomp_cache.h), and the program is
// loaded with seccomp(2) right before execve. Loading it ourselves instead of
// with seccomp_load() gives every SECCOMP_FILTER_FLAG_* the kernel has, not
// only those this libseccomp release knows, and the listener fd as the
// syscall's result.
//
// For SCMP_ACT_NOTIFY the listener socket is connected in stage 0 with the
// runtime's mount namespace and credentials (the path is a host path), and the
// container process state plus the notify fd go out in one sendmsg() after the
// filter is loaded.
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "init/fd.h"
#include "init/msg.h"
#include "init/seccomp_cache.h"
#include "init/steps.h"

namespace ocirun::init {

namespace {

static_assert(SCMP_ACT_ALLOW == 0x7fff0000u && SCMP_ACT_NOTIFY == 0x7fc00000u && SCMP_ACT_ERRNO(0) == 0x00050000u,
              "the planner encodes actions as SCMP_ACT_* values");
static_assert(SCMP_CMP_NE == 1 && SCMP_CMP_MASKED_EQ == 7, "the planner encodes operators as scmp_compare values");

#define OCIRUN_STR2(x) #x
#define OCIRUN_STR(x) OCIRUN_STR2(x)
const char* const kLibVersion =
    "libseccomp " OCIRUN_STR(SCMP_VER_MAJOR) "." OCIRUN_STR(SCMP_VER_MINOR) "." OCIRUN_STR(SCMP_VER_MICRO);

// What loading needs, set in stage 0 (filter, listener socket) and in the
// init before pivot_root (pid); the init inherits stage 0's through clone.
CompiledFilter g_filter;
bool g_prepared = false;
int g_listener = -1;
std::string g_host_pid;

class Filter {
 public:
  explicit Filter(uint32_t def) : ctx_(seccomp_init(def)) {}
  ~Filter() {
    if (ctx_) seccomp_release(ctx_);
  }
  Filter(const Filter&) = delete;
  Filter& operator=(const Filter&) = delete;
  scmp_filter_ctx get() const { return ctx_; }

 private:
  scmp_filter_ctx ctx_;
};

bool lib_fail(int rc, const char* call, std::string what) {
  return fail_msg(rc < 0 ? -rc : EINVAL, call, "", "seccomp: " + what);
}

bool add_rule(scmp_filter_ctx ctx, const SeccompRule& rule, int nr) {
  std::vector<scmp_arg_cmp> args;
  for (const auto& a : rule.args)
    args.push_back(scmp_arg_cmp{a.index, static_cast<scmp_compare>(a.op), a.value, a.value_two});
  // As runc: several conditions on one argument cannot all hold at once, so
  // such a rule means "any of them" and becomes one rule per condition.
  bool repeated = false;
  for (size_t i = 0; i < args.size(); i++)
    for (size_t j = 0; j < i; j++) repeated |= args[i].arg == args[j].arg;
  if (repeated) {
    for (const auto& a : args) {
      int rc = seccomp_rule_add_array(ctx, rule.action, nr, 1, &a);
      if (rc < 0) return false;
    }
    return true;
  }
  return seccomp_rule_add_array(ctx, rule.action, nr, static_cast<unsigned>(args.size()), args.data()) == 0;
}

bool export_program(scmp_filter_ctx ctx) {
  Fd mem(static_cast<int>(syscall(SYS_memfd_create, "seccomp-bpf", MFD_CLOEXEC)));
  if (mem.get() < 0) return fail(errno, "memfd_create", "", "seccomp: export filter");
  int rc = seccomp_export_bpf(ctx, mem.get());
  if (rc < 0) return lib_fail(rc, "seccomp_export_bpf", "export filter");
  off_t size = lseek(mem.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(sock_filter) != 0 || size > BPF_MAXINSNS * static_cast<off_t>(sizeof(sock_filter)))
    return fail_msg(E2BIG, "seccomp_export_bpf", "", "seccomp: filter has " + std::to_string(size / 8) + " instructions, the kernel takes at most " + std::to_string(BPF_MAXINSNS));
  g_filter.program.resize(static_cast<size_t>(size) / sizeof(sock_filter));
  if (pread(mem.get(), g_filter.program.data(), static_cast<size_t>(size), 0) != size)
    return fail(errno ? errno : EIO, "pread", "", "seccomp: read exported filter");
  return true;
}

// The runtime-spec "container process state" and the notify fd, in the first
// sendmsg() as the spec asks; a short write sends the rest as plain data.
bool send_to_listener(const Seccomp& sc, int notify_fd) {
  std::string json;
  for (size_t i = 0; i < sc.listener_state.size(); i++) {
    if (i) json += g_host_pid;
    json += sc.listener_state[i];
  }
  ssize_t n = send_with_fd(g_listener, json.data(), json.size(), notify_fd);
  if (n < 0) return fail(errno, "sendmsg", sc.listener_path, "seccomp: send notify fd to listener");
  for (size_t off = static_cast<size_t>(n); off < json.size();) {
    ssize_t m = send(g_listener, json.data() + off, json.size() - off, MSG_NOSIGNAL);
    if (m < 0 && errno == EINTR) continue;
    if (m < 0) return fail(errno, "send", sc.listener_path, "seccomp: send state to listener");
    off += static_cast<size_t>(m);
  }
  return true;
}

// libseccomp's part: rules to BPF, names it does not know collected.
bool compile(const Seccomp& sc) {
  Filter f(sc.default_action);
  if (!f.get()) return fail_msg(EINVAL, "seccomp_init", "", "seccomp: the kernel or " + std::string(kLibVersion) + " refuses the default action");
  for (const auto& name : sc.arches) {
    uint32_t arch = seccomp_arch_resolve_name(name.c_str());
    if (arch == 0) return fail_msg(EINVAL, "seccomp_arch_add", "", "seccomp: architecture " + name + " is not supported by " + kLibVersion);
    int rc = seccomp_arch_add(f.get(), arch);
    if (rc < 0 && rc != -EEXIST) return lib_fail(rc, "seccomp_arch_add", "add architecture " + name);
  }
  // A binary tree instead of a linear scan of the syscall numbers, as runc
  // does past 32 syscalls (libseccomp <= 2.5.4 misbehaves with it on an
  // empty rule set): slower to build, faster for every syscall after.
  size_t calls = 0;
  for (const auto& rule : sc.rules) calls += rule.names.size();
  if (calls > 32) seccomp_attr_set(f.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);

  std::vector<std::string> unknown;
  for (const auto& rule : sc.rules) {
    // libseccomp refuses a rule that repeats the default action; it changes nothing.
    if (rule.action == sc.default_action) continue;
    for (const auto& name : rule.names) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) {
        if (std::find(unknown.begin(), unknown.end(), name) == unknown.end()) unknown.push_back(name);
        continue;
      }
      if (!add_rule(f.get(), rule, nr)) return fail_msg(EINVAL, "seccomp_rule_add", "", "seccomp: cannot add the rule for syscall " + name);
      g_filter.notify |= rule.action == SCMP_ACT_NOTIFY;
    }
  }
  for (const auto& n : unknown) g_filter.unknown += (g_filter.unknown.empty() ? "" : ", ") + n;
  return export_program(f.get());
}

}  // namespace

bool connect_seccomp_listener(const Process& p) {
  if (!p.has_seccomp || p.seccomp.listener_path.empty()) return true;
  const std::string& path = p.seccomp.listener_path;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return fail(ENAMETOOLONG, "connect", path, "seccomp: listener path too long:");
  memcpy(addr.sun_path, path.data(), path.size());
  Fd s(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s.get() < 0) return fail(errno, "socket", path, "seccomp: connect to listener");
  int rc;
  do rc = connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return fail(errno, "connect", path, "seccomp: connect to listener");
  g_listener = s.release();
  return true;
}

bool prepare_seccomp(const Process& p) {
  if (!p.has_seccomp) return true;
  const Seccomp& sc = p.seccomp;
  timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  bool cached = seccomp_cache_load(sc, &g_filter);
  if (!cached) {
    if (!compile(sc)) return false;
    seccomp_cache_store(sc, g_filter);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  debug("seccomp: %zu BPF instructions %s in %ld us", g_filter.program.size(), cached ? "from the cache" : "compiled",
        (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000);
  g_prepared = true;
  // runc skips these too: names from a newer kernel than this libseccomp knows.
  if (!g_filter.unknown.empty() && !send_warning("seccomp: syscalls unknown to " + std::string(kLibVersion) + " skipped: " + g_filter.unknown))
    return false;
  return true;
}

bool note_seccomp_pid(const Process& p, pid_t pid) {
  if (g_listener < 0) return true;
  if (pid > 0) {
    g_host_pid = std::to_string(pid);
    return true;
  }
  // Our pid as the runtime sees it: /proc is still the runtime's procfs here.
  char buf[32];
  ssize_t n = readlink("/proc/self", buf, sizeof buf - 1);
  if (n <= 0) return fail(errno, "readlink", "/proc/self", "seccomp: find the container pid via");
  g_host_pid.assign(buf, static_cast<size_t>(n));
  return true;
}

bool load_seccomp(const Process& p, const std::vector<int>& extra) {
  if (!p.has_seccomp) return true;
  if (!g_prepared) return fail(EINVAL, "seccomp", "", "seccomp: filter was not prepared");
  // Checked first: a notify filter without its agent would hang the container's first notified call.
  if (g_filter.notify && g_listener < 0) return fail(ENOTCONN, "sendmsg", "", "seccomp: SCMP_ACT_NOTIFY without a listener");
  if (g_filter.notify && g_host_pid.empty()) return fail(ESRCH, "sendmsg", "", "seccomp: the container pid for the listener is unknown");
  // Whatever runs after this is filtered: should the profile deny close_range
  // or fcntl, the fds past stdio must still not reach the user program. The
  // extra fds (ascending) are for it, and exec_user moves them with dup2.
  unsigned from = 3;
  for (int fd : extra) {
    if (static_cast<unsigned>(fd) > from) syscall(SYS_close_range, from, static_cast<unsigned>(fd) - 1, CLOSE_RANGE_CLOEXEC);
    from = static_cast<unsigned>(fd) + 1;
  }
  syscall(SYS_close_range, from, ~0u, CLOSE_RANGE_CLOEXEC);
  uint32_t flags = p.seccomp.flags;
  // The kernel takes WAIT_KILLABLE_RECV only with a listener; without one it means nothing.
  if (g_filter.notify) flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
  else flags &= ~static_cast<uint32_t>(SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
  sock_fprog prog{static_cast<unsigned short>(g_filter.program.size()), g_filter.program.data()};
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (rc < 0) return fail(errno, "seccomp", "", "seccomp: load filter");
  if (g_filter.notify) {
    Fd notify(static_cast<int>(rc));
    if (!send_to_listener(p.seccomp, notify.get())) return false;
  }
  if (g_listener >= 0) close(g_listener);
  g_listener = -1;
  return true;
}

}  // namespace ocirun::init
