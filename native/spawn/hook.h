// Starting one of the runtime's own hooks (prestart, createRuntime, poststart,
// poststop) as a child of the calling process: the Node CLI or library (the
// addon's startHook) or the front end an engine ran, asked by the daemon. So a
// hook gets what runc's hooks get from runc: the caller's credentials,
// cgroup, rlimits, umask, session and terminal. What happens next (timeout,
// output, the error message) is decided in TypeScript (src/hooks/run.ts).
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "spawn/fd.h"
#include "spawn/syserror.h"

namespace ocirun {

struct HookCommand {
  std::string path;               // absolute (the config's validation says so)
  std::vector<std::string> argv;  // non-empty: argv[0] is the config's args[0], else path
  std::vector<std::string> env;   // exactly the hook's env, nothing of ours
  std::string state;              // the state JSON, the hook's stdin
};

struct HookProcess {
  pid_t pid = -1;   // also its process group: the hook leads one of its own
  UniqueFd pidfd;   // -1 when the kernel gave none
  UniqueFd output;  // read end of the pipe that is the hook's stdout and stderr
};

// Clones vfork-style and execs the hook with stdin a memfd holding the state
// (a hook that never reads cannot block anyone), stdout and stderr one pipe,
// no other descriptor, default signal dispositions and an empty mask, in a
// process group of its own (so a timeout can kill what it started) but the
// caller's session. An exec failure is reported here (errno, "execve") with
// the child already reaped.
bool StartHook(const HookCommand& cmd, HookProcess* out, SysError* err);

}  // namespace ocirun
