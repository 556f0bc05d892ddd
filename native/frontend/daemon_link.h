// Reaching the daemon: connect to its socket, or start it and connect.
#pragma once
#include <string>

#include "frontend/paths.h"

namespace ocirun::frontend {

// A connected socket (CLOEXEC, blocking), or -1 when no daemon could be
// reached; *why says why (for OCIRUN_ENGINE_DEBUG).
int ConnectDaemon(const Install& install, const std::string& engine_dir, const std::string& socket_path,
                  bool may_start, std::string* why);

}  // namespace ocirun::frontend
