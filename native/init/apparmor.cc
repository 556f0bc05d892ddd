// AppArmor: ask for a profile transition at the user program's execve. The
// runtime checked that the host has AppArmor before planning this.
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "init/fd.h"
#include "init/msg.h"
#include "init/steps.h"

namespace ocirun::init {

bool apply_apparmor(const Process& p) {
  if (p.apparmor_profile.empty()) return true;
  // The per-LSM file (Linux 5.8+) works with stacked LSMs; attr/exec is the
  // older shared one.
  const char* path = "/proc/self/attr/apparmor/exec";
  Fd fd(open(path, O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0 && errno == ENOENT) {
    path = "/proc/self/attr/exec";
    fd.reset(open(path, O_WRONLY | O_CLOEXEC));
  }
  if (fd.get() < 0) return fail(errno, "open", path, "apparmor: apply profile via");
  // This /proc is the container's: an image without a proc mount could ship a
  // plain file here and leave the process unconfined (CVE-2019-16884).
  struct statfs sf;
  if (fstatfs(fd.get(), &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
    return fail(EINVAL, "open", path, "apparmor: refusing to apply the profile: not on procfs:");
  std::string cmd = "exec " + p.apparmor_profile;
  if (!write_all(fd.get(), cmd.data(), cmd.size()))
    return fail_msg(errno, "write", path, "apparmor: apply profile " + p.apparmor_profile);
  return true;
}

}  // namespace ocirun::init
