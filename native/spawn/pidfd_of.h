#pragma once
#include <sys/types.h>

namespace ocirun {

// The pid a pidfd refers to, from /proc/self/fdinfo. Returns 0 when the fd is
// not a pidfd (no "Pid:" line), -1 when the process has been reaped, and
// -2 when fdinfo cannot be read at all (no /proc: callers then skip checks).
pid_t PidOfPidfd(int fd);

}  // namespace ocirun
