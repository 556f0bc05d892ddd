// The init helper runs from a sealed in-memory copy (CVE-2019-5736: a container
// must never be able to reach and overwrite the binary the host executes).
#pragma once
#include <string>

#include "spawn/syserror.h"
#include "spawn/fd.h"

namespace ocirun {

// Returns a new CLOEXEC descriptor of the sealed copy of `helper`, made once
// per process and re-made when the file changes. The caller owns the returned
// descriptor: the cache may be replaced by another thread while the caller is
// still using its copy. Thread-safe; runs off the JS thread.
bool SealedHelper(const std::string& helper, UniqueFd* out, SysError* err);

}  // namespace ocirun
