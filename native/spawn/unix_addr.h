// The sockaddr_un of a filesystem path, for the addon's and the front end's
// Unix sockets alike.
#pragma once
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <string>

namespace ocirun {

// False (the caller reports ENAMETOOLONG) when `path` is empty or does not fit.
inline bool UnixAddress(const std::string& path, sockaddr_un* addr) {
  *addr = sockaddr_un{};
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr->sun_path) return false;
  memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

}  // namespace ocirun
