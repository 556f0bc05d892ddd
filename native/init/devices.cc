// Device nodes and the /dev symlinks. Outside a user namespace nodes are made
// with mknod; inside one mknod is not allowed, so the host's node is bind-mounted
// onto an empty file instead.
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "init/fd.h"
#include "init/msg.h"
#include "init/pathres.h"
#include "init/steps.h"

namespace ocirun::init {

namespace {

bool is_device(const struct stat& st, const Device& d) {
  return (st.st_mode & S_IFMT) == d.type &&
         (d.type == S_IFIFO || st.st_rdev == makedev(d.major, d.minor));
}

bool bind_device(int rootfd, const Device& d) {
  // The host node: refuse a host path that is not the planned device, so a
  // wrong plan cannot expose an arbitrary host file in the container.
  struct stat host;
  if (stat(d.path.c_str(), &host) < 0) return fail(errno, "stat", d.path, "find host device");
  if (!is_device(host, d)) return fail(EINVAL, "stat", d.path, "host node does not match planned device");
  Fd target(mkpath_nofollow_in_root(rootfd, d.path, Leaf::File));
  if (target.get() < 0) return false;
  struct stat st;
  if (fstat(target.get(), &st) < 0) return fail(errno, "fstat", d.path, "inspect");
  if (S_ISDIR(st.st_mode)) return fail(EEXIST, "mount", d.path, "device path exists and is not a file:");
  std::string t = fd_path(target.get());
  if (mount(d.path.c_str(), t.c_str(), nullptr, MS_BIND, nullptr) < 0)
    return fail(errno, "mount", d.path, "bind mount device");
  return true;
}

bool make_device(int rootfd, const Device& d) {
  std::string name;
  Fd dir(parent_in_root(rootfd, d.path, &name));
  if (dir.get() < 0) return false;
  struct stat st;
  if (fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (is_device(st, d)) return true;
    if (S_ISLNK(st.st_mode))
      return fail_msg(ELOOP, "mknodat", d.path, d.path + " is a symlink in the rootfs, refusing to follow it");
    // An empty regular file is a placeholder (an image's /dev/null stub, say);
    // anything else is content we must not silently destroy.
    if (!S_ISREG(st.st_mode) || st.st_size != 0)
      return fail(EEXIST, "mknodat", d.path, "a different file already exists at");
    if (unlinkat(dir.get(), name.c_str(), 0) < 0) return fail(errno, "unlinkat", d.path, "replace placeholder");
  } else if (errno != ENOENT) {
    return fail(errno, "fstatat", d.path, "inspect");
  }
  dev_t dev = d.type == S_IFIFO ? 0 : makedev(d.major, d.minor);
  if (mknodat(dir.get(), name.c_str(), d.type | d.mode, dev) < 0) return fail(errno, "mknodat", d.path, "create device");
  if (fchownat(dir.get(), name.c_str(), d.uid, d.gid, AT_SYMLINK_NOFOLLOW) < 0)
    return fail(errno, "fchownat", d.path, "chown device");
  return true;
}

}  // namespace

bool create_devices(const Plan& plan, int rootfd) {
  if (plan.devices.empty()) return true;
  // Modes in the plan are exact; the inherited umask must not trim them.
  mode_t old = umask(0);
  bool ok = true;
  for (const auto& d : plan.devices) {
    debug("device %s%s", d.path.c_str(), d.bind ? " (bind)" : "");
    if (!(ok = d.bind ? bind_device(rootfd, d) : make_device(rootfd, d))) break;
  }
  umask(old);
  return ok;
}

bool create_symlinks(const Plan& plan, int rootfd) {
  for (const auto& l : plan.symlinks)
    if (!ensure_symlink(rootfd, l.path, l.target, true)) return false;
  return true;
}

}  // namespace ocirun::init
