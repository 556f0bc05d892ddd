// Compiled seccomp filters kept on the host between containers: libseccomp
// needs milliseconds (tens with several architectures) to build a Docker-sized
// profile, more than the rest of `create`. Stage 0 reads and writes entries
// with the runtime's credentials; the planner names them (SC_CACHE_KEY).
#pragma once
#include <linux/filter.h>

#include <string>
#include <vector>

#include "init/plan.h"

namespace ocirun::init {

struct CompiledFilter {
  std::vector<sock_filter> program;
  bool notify = false;      // some SCMP_ACT_NOTIFY rule made it in: load with NEW_LISTENER
  std::string unknown;      // syscall names libseccomp did not know, comma-separated
};

// True with *out filled when a valid entry exists. Any problem (no entry, a
// directory not owned by us or writable by others, a damaged file) is a miss.
bool seccomp_cache_load(const Seccomp& sc, CompiledFilter* out);
// Best effort: a failure only costs the next container a compile.
void seccomp_cache_store(const Seccomp& sc, const CompiledFilter& f);

}  // namespace ocirun::init
