// SELinux: the process label takes effect at the user program's execve, like
// runc's SetExecLabel. The runtime plans a label only where SELinux is on
// (src/process/host-checks.ts); elsewhere the config's label is ignored.
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "init/fd.h"
#include "init/msg.h"
#include "init/steps.h"

namespace ocirun::init {

bool apply_selinux_label(const Process& p) {
  if (p.selinux_label.empty()) return true;
  // thread-self: the attribute is per thread, and this is the thread that execs.
  const char* path = "/proc/thread-self/attr/exec";
  Fd fd(open(path, O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0) return fail(errno, "open", path, "selinux: set process label via");
  // The container's /proc: a plain file here would leave the process unlabelled (CVE-2019-16884).
  struct statfs sf;
  if (fstatfs(fd.get(), &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
    return fail(EINVAL, "open", path, "selinux: refusing to set the label: not on procfs:");
  if (!write_all(fd.get(), p.selinux_label.data(), p.selinux_label.size()))
    return fail_msg(errno, "write", path, "selinux: set process label " + p.selinux_label);
  return true;
}

}  // namespace ocirun::init
