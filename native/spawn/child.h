// Starting the init helper process. Node is multithreaded, so between clone and
// exec the child may only make raw, async-signal-safe system calls.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "spawn/syserror.h"
#include "spawn/fd.h"

namespace ocirun {

struct HelperProcess {
  pid_t pid = -1;
  UniqueFd pidfd;  // -1 when the kernel gave none (neither CLONE_PIDFD nor pidfd_open)
};

// Clones vfork-style (CLONE_VM|CLONE_VFORK|CLONE_PIDFD, on a stack of its own) and
// execs the sealed `memfd` as "ocirun-init" with an empty environment, after
// making fds[i] the child's descriptor i, without CLOEXEC, and closing every
// other descriptor. fds[3] must be the child's end of the socketpair: if the
// child cannot exec, it reports a MSG_ERROR record there (E_PATH = helper_path)
// and exits 127.
bool StartHelper(int memfd, const std::vector<int>& fds, const std::string& helper_path, HelperProcess* out,
                 SysError* err);

}  // namespace ocirun
