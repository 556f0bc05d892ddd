// Which namespaces the process at the other end of a connection is in, read
// so that a recycled pid cannot answer for it (the daemon's peer check,
// src/daemon/server.ts).
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

namespace ocirun::engine {

struct PeerNamespaces {
  // "mnt:<dev>:<ino>" for each name asked, in order; empty when unknown (see why).
  std::vector<std::string> ids;
  // How they were read: "pidfd" (SO_PEERPIDFD and PIDFD_GET_*_NAMESPACE),
  // "proc+pidfd" (/proc/<pid>/ns, the pidfd confirming afterwards that pid was
  // still the peer), or "proc" (kernels before 6.5: /proc/<pid>/ns alone).
  std::string how;
  std::string why;  // set when ids is empty
};

// `names` are /proc/<pid>/ns entries (mnt, user, pid, net, cgroup, ipc, uts...).
PeerNamespaces ReadPeerNamespaces(int sock, pid_t pid, const std::vector<std::string>& names);

}  // namespace ocirun::engine
