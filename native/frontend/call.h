// One call through the daemon: send the request, then do what the daemon
// asks (spawn the helper, wait for a child, forward signals) until it says
// how to exit.
#pragma once
#include <string>
#include <vector>

#include "frontend/paths.h"

namespace ocirun::frontend {

enum class CallEnd {
  kExit,      // *code is the exit code
  kFallback,  // the daemon declined (or was never reached): run the Node CLI
  kRetry,     // the connection ended before the daemon took the call: nothing happened
};

CallEnd RunCall(int sock, const Install& install, const std::vector<std::string>& args, int* code,
                std::string* why);

}  // namespace ocirun::frontend
