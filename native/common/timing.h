// Phase identifiers of MSG_TIMING entries (protocol.h). src/native/timing.ts
// mirrors this list and names them; keep the two in step. Numbers are stable:
// new phases get new numbers, never reused ones.
#pragma once
#include <stdint.h>

namespace ocirun::timing {

enum Phase : uint32_t {
  // The addon (native/addon/spawn.cc), on the libuv worker thread.
  SPAWN_BEGIN = 1,       // the worker picked up the request
  HELPER_SEALED = 2,     // sealed memfd of the helper at hand (copied or cached)
  HELPER_STARTED = 3,    // clone of the helper returned in the runtime
  READY_RECEIVED = 4,    // MSG_READY read: the container is created

  // Stage 0 of the helper, in the runtime's namespaces.
  HELPER_MAIN = 10,      // main() entered: clone + execve of the static helper done
  PLAN_DECODED = 11,
  NAMESPACES_JOINED = 12,// setns() into configured namespaces, time namespace set up
  INIT_CLONED = 13,      // clone3 with the new namespaces returned in stage 0
  ID_MAPPED = 14,        // pid sent, uid/gid maps written

  // Stage 1, the container init.
  INIT_RUNNING = 20,     // released by stage 0 (and root of its user namespace)
  ROOT_PREPARED = 21,    // propagation set, rootfs bind-mounted onto itself
  MOUNTS_DONE = 22,
  DEVICES_DONE = 23,     // device nodes and /dev symlinks
  PIVOTED = 24,
  HARDENED = 25,         // sysctls, readonly and masked paths, rootfs readonly
  EXEC_RESOLVED = 26,    // rlimits, cwd, args[0] resolved: about to report ready
};

}  // namespace ocirun::timing
