// The planned mounts, performed before pivot_root against the rootfs fd. Every
// target is an fd resolved inside the rootfs and handed to mount(2) as
// /proc/self/fd/N (the host /proc is still visible here), so neither a
// symlink in the rootfs nor a concurrent swap can point a mount at the host.
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init/fd.h"
#include "init/msg.h"
#include "init/pathres.h"
#include "init/steps.h"

namespace ocirun::init {

namespace {

const char* or_null(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }

// Flags a bind remount must restate: locked ones (set by a more privileged
// mount namespace) make the remount fail with EPERM if dropped.
unsigned long current_flags(int fd) {
  struct statvfs sv;
  if (fstatvfs(fd, &sv) < 0) return 0;
  unsigned long f = 0;
  if (sv.f_flag & ST_RDONLY) f |= MS_RDONLY;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

bool remount(const Mount& m, int fd) {
  std::string target = fd_path(fd);
  unsigned long flags = MS_REMOUNT | MS_BIND | m.remount;
  if (mount(nullptr, target.c_str(), nullptr, flags, nullptr) == 0) return true;
  int e = errno;
  // EPERM in a user namespace: retry keeping the locked flags, as runc does.
  if (e == EPERM) {
    unsigned long kept = current_flags(fd) & ~static_cast<unsigned long>(MS_RDONLY);
    if (mount(nullptr, target.c_str(), nullptr, flags | kept, nullptr) == 0) return true;
  }
  return fail(e, "mount", m.dest, "remount");
}

bool after_mount(int rootfd, const Mount& m) {
  if (!m.has_remount && m.propagation.empty() && !m.has_attr_set && !m.has_attr_clr) return true;
  // The fd we mounted on names the covered directory; look the path up again
  // to reach the new mount on top of it.
  Fd fd(open_in_root(rootfd, m.dest, O_PATH));
  if (fd.get() < 0) return fail(errno, "openat2", m.dest, "reopen mount");
  if (m.has_remount && !remount(m, fd.get())) return false;
  std::string target = fd_path(fd.get());
  for (uint64_t p : m.propagation)
    if (mount(nullptr, target.c_str(), nullptr, p, nullptr) < 0)
      return fail(errno, "mount", m.dest, "set propagation of");
  if (m.has_attr_set || m.has_attr_clr) {
    mount_attr attr{};
    attr.attr_set = m.attr_set;
    attr.attr_clr = m.attr_clr;
    if (syscall(SYS_mount_setattr, fd.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
      return fail(errno, "mount_setattr", m.dest, "set attributes of");
  }
  return true;
}

// /dev and everything under it is the runtime's to make (devpts, shm,
// mqueue, the console): a symlink the image planted there is refused, never
// followed, even inside the rootfs. Elsewhere an image's links are followed
// within the root (/var/run -> /run), as runc does.
bool runtime_owned(const std::string& dest) {
  size_t i = dest.find_first_not_of('/');
  if (i == std::string::npos) return false;
  return dest.compare(i, 3, "dev") == 0 && (dest.size() == i + 3 || dest[i + 3] == '/');
}

bool one_mount(int rootfd, const Mount& m) {
  if (m.has_symlink) return ensure_symlink(rootfd, m.dest, m.symlink, false);
  Leaf leaf = Leaf::Dir;
  bool bind = m.flags & MS_BIND;
  if (bind && !m.mkdir_only) {
    struct stat st;
    if (stat(m.source.c_str(), &st) < 0)
      return fail_msg(errno, "stat", m.source, "bind mount source " + m.source + " for " + m.dest);
    if (!S_ISDIR(st.st_mode)) leaf = Leaf::File;
  }
  Fd fd(runtime_owned(m.dest) ? mkpath_nofollow_in_root(rootfd, m.dest, leaf) : mkpath_in_root(rootfd, m.dest, leaf));
  if (fd.get() < 0) return false;
  if (m.mkdir_only) return true;
  if (m.idmap || m.ridmap) return attach_idmap_mount(m, fd.get()) && after_mount(rootfd, m);
  // tmpcopyup: this fd keeps the covered directory reachable once the tmpfs is on it.
  Fd covered(m.copyup ? openat(fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1);
  if (m.copyup && covered.get() < 0) return fail(errno, "openat", m.dest, "open for tmpcopyup");
  std::string target = fd_path(fd.get());
  if (mount(m.source.c_str(), target.c_str(), or_null(m.type), m.flags, or_null(m.data)) < 0) {
    int e = errno;
    if (bind) return fail_msg(e, "mount", m.dest, "bind mount " + m.source + " on " + m.dest);
    return fail(e, "mount", m.dest, "mount");
  }
  if (m.copyup) {
    Fd fresh(open_in_root(rootfd, m.dest, O_RDONLY | O_DIRECTORY));
    if (fresh.get() < 0) return fail(errno, "openat2", m.dest, "open new tmpfs at");
    if (!copy_up(covered.get(), fresh.get(), m.dest)) return false;
  }
  return after_mount(rootfd, m);
}

}  // namespace

bool do_mounts(const Plan& plan, int rootfd) {
  for (const auto& m : plan.mounts) {
    debug("mount %s on %s (%s)", m.source.c_str(), m.dest.c_str(), m.type.c_str());
    if (!one_mount(rootfd, m)) return false;
  }
  return true;
}

}  // namespace ocirun::init
