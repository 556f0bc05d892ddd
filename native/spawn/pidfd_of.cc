// PidOfPidfd (spawn/pidfd_of.h).
#include "spawn/pidfd_of.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spawn/fd.h"

namespace ocirun {

pid_t PidOfPidfd(int fd) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
  UniqueFd info(open(path, O_RDONLY | O_CLOEXEC));
  if (!info.valid()) return errno == ENOENT ? 0 : -2;
  char buf[1024];
  ssize_t n;
  do n = read(info.get(), buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -2;
  buf[n] = 0;
  for (char* line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : nullptr) {
    if (strncmp(line, "Pid:", 4) == 0) {
      long pid = strtol(line + 4, nullptr, 10);
      return pid > 0 ? pid_t(pid) : -1;
    }
  }
  return 0;
}

}  // namespace ocirun
