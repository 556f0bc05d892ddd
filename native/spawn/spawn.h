// The one way ocirun starts its init helper: copy ocirun-init into a sealed
// memfd, start it with the caller's fds, send the plan, and collect its answer
// (pid and pidfd of the init, warnings, or the error). Linked into the Node
// addon (spawnContainer) and into the native front end (native/frontend), so
// the helper is a child of whichever process the user ran: the Node CLI or
// library, or the front end an engine ran while the daemon decided the plan.
#pragma once
#include <stdint.h>
#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "spawn/fd.h"
#include "spawn/syserror.h"

namespace ocirun {

// The pause at the createRuntime point (MSG_HOOKS): hands the init's pid and
// the helper socket to whoever runs the hooks, which answers 'h' or 'a' on a
// duplicate of that socket. Called on the spawning thread.
class HookNotifier {
 public:
  virtual ~HookNotifier() = default;
  virtual bool Notify(pid_t pid, int sock, SysError* err) = 0;
};

struct SpawnRequest {
  std::string helper;
  std::vector<uint8_t> plan;
  std::vector<int> fds;  // stdio[0..2], then extraFds; the socket is inserted at 3
  bool timing = false;   // return phase timestamps (the plan asks the helper for its own)
  HookNotifier* hooks = nullptr;  // answers MSG_HOOKS; nullptr: MSG_HOOKS is a protocol error
};

struct SpawnOutcome {
  pid_t pid = -1;
  UniqueFd pidfd;
  UniqueFd control;  // our end of the plan socket, for the commit byte
  std::vector<std::string> warnings;
  std::vector<std::pair<uint32_t, uint64_t>> marks;  // phase, CLOCK_MONOTONIC ns
};

// Blocks until the container is created (the init waits for the commit byte
// on out->control) or has failed; on failure nothing it started is left
// running or unreaped.
bool RunSpawn(const SpawnRequest& req, SpawnOutcome* out, SysError* err);

}  // namespace ocirun
