// After pivot_root: sysctls, read-only paths and masked paths, all resolved
// inside the new root. The bind mounts use the fd-based mount API (open_tree +
// move_mount), so they act on exactly the objects we checked and do not depend
// on the container's /proc being a real procfs.
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "init/fd.h"
#include "init/msg.h"
#include "init/pathres.h"
#include "init/steps.h"

namespace ocirun::init {

namespace {

int open_root() { return open("/", O_PATH | O_DIRECTORY | O_CLOEXEC); }

bool attach(int mntfd, int target, const std::string& path, const char* what) {
  if (syscall(SYS_move_mount, mntfd, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return fail(errno, "move_mount", path, what);
  return true;
}

// "net.ipv4.ip_forward" -> "net/ipv4/ip_forward"; a key already written with
// slashes (for interface names containing dots) is taken as is.
bool sysctl_path(const std::string& key, std::string* out) {
  std::string rel = key;
  if (rel.find('/') == std::string::npos)
    for (char& c : rel)
      if (c == '.') c = '/';
  size_t i = 0;
  while (i <= rel.size()) {
    size_t j = rel.find('/', i);
    if (j == std::string::npos) j = rel.size();
    std::string part = rel.substr(i, j - i);
    if (part.empty() || part == "." || part == "..") return false;
    i = j + 1;
  }
  *out = "/proc/sys/" + rel;
  return true;
}

}  // namespace

bool write_sysctls(const Plan& plan) {
  if (plan.sysctls.empty()) return true;
  Fd root(open_root());
  if (root.get() < 0) return fail(errno, "open", "/", "open root");
  for (const auto& s : plan.sysctls) {
    std::string path;
    if (!sysctl_path(s.key, &path)) return fail(EINVAL, "open", s.key, "invalid sysctl key");
    open_how how{};
    how.flags = O_WRONLY | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    Fd fd(static_cast<int>(syscall(SYS_openat2, root.get(), path.c_str() + 1, &how, sizeof how)));
    if (fd.get() < 0) return fail(errno, "open", path, "write sysctl");
    // A rootfs could ship its own /proc/sys tree; only the real procfs counts.
    struct statfs sf;
    if (fstatfs(fd.get(), &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
      return fail(EINVAL, "open", path, "sysctl file is not on procfs:");
    if (!write_all(fd.get(), s.value.data(), s.value.size())) return fail(errno, "write", path, "write sysctl");
  }
  return true;
}

bool readonly_paths(const Plan& plan) {
  if (plan.readonly_paths.empty()) return true;
  Fd root(open_root());
  if (root.get() < 0) return fail(errno, "open", "/", "open root");
  for (const auto& p : plan.readonly_paths) {
    Fd fd(open_in_root(root.get(), p, O_PATH));
    if (fd.get() < 0) {
      if (errno == ENOENT) continue;
      return fail(errno, "openat2", p, "resolve read-only path");
    }
    // Same as bind(MS_REC) + remount(MS_RDONLY) on the top mount: the clone
    // keeps every other flag, including locked nosuid/nodev/noexec.
    Fd tree(static_cast<int>(syscall(SYS_open_tree, fd.get(), "",
                                     OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH)));
    if (tree.get() < 0) return fail(errno, "open_tree", p, "bind read-only path");
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
      return fail(errno, "mount_setattr", p, "make read-only");
    if (!attach(tree.get(), fd.get(), p, "mount read-only path")) return false;
  }
  return true;
}

bool mask_paths(const Plan& plan) {
  if (plan.masked_paths.empty()) return true;
  Fd root(open_root());
  if (root.get() < 0) return fail(errno, "open", "/", "open root");
  Fd null;
  for (const auto& p : plan.masked_paths) {
    Fd fd(open_in_root(root.get(), p, O_PATH));
    if (fd.get() < 0) {
      if (errno == ENOENT) continue;
      return fail(errno, "openat2", p, "resolve masked path");
    }
    struct stat st;
    if (fstat(fd.get(), &st) < 0) return fail(errno, "fstat", p, "inspect masked path");
    Fd mnt;
    if (S_ISDIR(st.st_mode)) {
      Fd fs(static_cast<int>(syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC)));
      if (fs.get() < 0) return fail(errno, "fsopen", p, "mask directory");
      if (syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0)
        return fail(errno, "fsconfig", p, "mask directory");
      mnt.reset(static_cast<int>(syscall(SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY)));
      if (mnt.get() < 0) return fail(errno, "fsmount", p, "mask directory");
    } else {
      if (null.get() < 0) {
        // CVE-2025-31133: the container controls its /dev; if /dev/null were a
        // link to, say, /proc/sys/kernel/core_pattern we would bind that
        // writable file over the masked path. Only the real 1:3 node will do.
        null.reset(open_in_root(root.get(), "/dev/null", O_PATH));
        struct stat ns;
        if (null.get() < 0) return fail(errno, "openat2", "/dev/null", "open for masking");
        if (fstat(null.get(), &ns) < 0) return fail(errno, "fstat", "/dev/null", "inspect");
        if (!S_ISCHR(ns.st_mode) || ns.st_rdev != makedev(1, 3))
          return fail(EINVAL, "fstat", "/dev/null", "refusing to mask paths: not the 1:3 device:");
      }
      mnt.reset(static_cast<int>(syscall(SYS_open_tree, null.get(), "",
                                         OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH)));
      if (mnt.get() < 0) return fail(errno, "open_tree", p, "mask");
    }
    if (!attach(mnt.get(), fd.get(), p, "mask")) return false;
  }
  return true;
}

}  // namespace ocirun::init
