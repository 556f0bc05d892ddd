// A failure captured where there is no JS to throw to (a libuv worker, the
// exit watcher, or the native front end) and reported later: as a Node-style
// Error by the addon (addon/errors.h), or over the engine socket by the front end.
#pragma once
#include <string>

namespace ocirun {

struct SysError {
  int err = 0;           // positive errno; 0 when the failure has no errno
  std::string syscall;   // may be empty
  std::string path;      // may be empty
  std::string message;   // what we were doing, for humans; may be empty

  static SysError Errno(int err, std::string syscall, std::string path = {}, std::string message = {}) {
    return SysError{err, std::move(syscall), std::move(path), std::move(message)};
  }
  // A failure with no errno (protocol violation, unexpected helper exit).
  static SysError Plain(std::string message) { return SysError{0, {}, {}, std::move(message)}; }
};

}  // namespace ocirun
