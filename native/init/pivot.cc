// The root filesystem: propagation of "/", the rootfs bind mount, pivot_root
// (or MS_MOVE + chroot), and the final read-only/propagation settings.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init/msg.h"
#include "init/steps.h"

namespace ocirun::init {

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(const char* s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\\' && i + 3 < n) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool under(const std::string& path, const std::string& mp) {
  if (mp == "/") return true;
  return path.compare(0, mp.size(), mp) == 0 && (path.size() == mp.size() || path[mp.size()] == '/');
}

// pivot_root and MS_MOVE refuse a new root whose parent mount is shared (it
// would propagate into the host). Like runc, make that parent private; only
// needed when the requested root propagation kept things shared.
bool make_parent_private(const std::string& rootfs) {
  char real[PATH_MAX];
  if (!realpath(rootfs.c_str(), real)) return fail(errno, "realpath", rootfs, "resolve rootfs");
  std::string target = real;
  FILE* f = fopen("/proc/self/mountinfo", "re");
  if (!f) return fail(errno, "open", "/proc/self/mountinfo", "read");
  char* line = nullptr;
  size_t cap = 0;
  std::string best;
  bool best_shared = false;
  while (getline(&line, &cap, f) > 0) {
    // id parent major:minor root mountpoint options [optional fields...] - ...
    char* fields[6];
    char* p = line;
    int n = 0;
    for (; n < 6 && p; n++) {
      fields[n] = p;
      p = strchr(p, ' ');
      if (p) *p++ = '\0';
    }
    if (n < 6 || !p) continue;
    std::string mp = unescape(fields[4], strlen(fields[4]));
    if (!under(target, mp) || mp.size() < best.size()) continue;
    char* dash = strstr(p, " - ");
    if (dash) *dash = '\0';
    best = mp;
    best_shared = strstr(p, "shared:") != nullptr;
  }
  free(line);
  fclose(f);
  if (best_shared && mount(nullptr, best.c_str(), nullptr, MS_PRIVATE, nullptr) < 0)
    return fail(errno, "mount", best, "make rootfs parent mount private");
  return true;
}

}  // namespace

bool prepare_root(const Plan& plan, int* rootfd) {
  // In the caller's mount namespace "/" is the host's: its propagation is not ours to change.
  if (!plan.host_mount_ns) {
    unsigned long prop = plan.has_root_propagation ? plan.root_propagation : (MS_SLAVE | MS_REC);
    if (mount(nullptr, "/", nullptr, prop, nullptr) < 0) return fail(errno, "mount", "/", "set propagation of");
    if ((prop & MS_SHARED) && !make_parent_private(plan.rootfs)) return false;
  }
  // pivot_root needs the new root to be a mount point. Without a mount
  // namespace the bind holds every mount made below it, so that `delete`
  // removes them all with one detach of the rootfs.
  if (mount(plan.rootfs.c_str(), plan.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
    return fail(errno, "mount", plan.rootfs, "bind rootfs");
  *rootfd = open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*rootfd < 0) return fail(errno, "open", plan.rootfs, "open rootfs");
  return true;
}

bool pivot(const Plan& plan, int rootfd) {
  if (plan.host_mount_ns) {
    // runc's chroot mode: pivot_root or MS_MOVE here would move the host's own root.
    if (fchdir(rootfd) < 0) return fail(errno, "fchdir", plan.rootfs, "enter rootfs");
    if (chroot(".") < 0) return fail(errno, "chroot", plan.rootfs, "chroot into");
    if (chdir("/") < 0) return fail(errno, "chdir", "/", "enter");
    return true;
  }
  if (plan.no_pivot) {
    if (fchdir(rootfd) < 0) return fail(errno, "fchdir", plan.rootfs, "enter rootfs");
    if (mount(plan.rootfs.c_str(), "/", nullptr, MS_MOVE, nullptr) < 0)
      return fail(errno, "mount", plan.rootfs, "move rootfs to /");
    if (chroot(".") < 0) return fail(errno, "chroot", plan.rootfs, "chroot into");
    if (chdir("/") < 0) return fail(errno, "chdir", "/", "enter");
    return true;
  }
  int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (oldroot < 0) return fail(errno, "open", "/", "open old root");
  bool ok = false;
  // pivot_root(".", ".") stacks the old root on top of the new one, so no
  // put_old directory is needed inside the rootfs; we then detach it.
  if (fchdir(rootfd) < 0) fail(errno, "fchdir", plan.rootfs, "enter rootfs");
  else if (syscall(SYS_pivot_root, ".", ".") < 0) fail(errno, "pivot_root", plan.rootfs, "pivot_root to");
  else if (fchdir(oldroot) < 0) fail(errno, "fchdir", "/", "enter old root");
  // Slave first so the detach does not propagate back to the host.
  else if (mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) < 0) fail(errno, "mount", "/", "make old root slave");
  else if (umount2(".", MNT_DETACH) < 0) fail(errno, "umount2", "/", "detach old root");
  else if (chdir("/") < 0) fail(errno, "chdir", "/", "enter new root");
  else ok = true;
  close(oldroot);
  return ok;
}

bool finalize_root(const Plan& plan) {
  if (plan.rootfs_readonly) {
    struct statvfs sv;
    if (statvfs("/", &sv) < 0) return fail(errno, "statvfs", "/", "read mount flags of");
    // A bind remount must restate the flags we keep, or locked ones (user
    // namespaces) make it fail with EPERM and unlocked ones get cleared.
    unsigned long keep = 0;
    if (sv.f_flag & ST_NOSUID) keep |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV) keep |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC) keep |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME) keep |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME) keep |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME) keep |= MS_RELATIME;
    if (sv.f_flag & ST_SYNCHRONOUS) keep |= MS_SYNCHRONOUS;
    if (mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, nullptr) < 0)
      return fail(errno, "mount", "/", "remount read-only");
  }
  if (plan.has_rootfs_propagation &&
      mount(nullptr, "/", nullptr, plan.rootfs_propagation, nullptr) < 0)
    return fail(errno, "mount", "/", "set rootfs propagation of");
  return true;
}

}  // namespace ocirun::init
