// pidfdOpen / pidfdSendSignal, and the pidfd helpers the rest of the addon uses.
#include "addon/pidfd.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "addon/addon.h"
#include "addon/errors.h"
#include "addon/fd.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

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

namespace {

Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  int pid = ArgInt32(info, 0, "pid", 1, INT32_MAX);
  // pidfd_open(2) always returns a CLOEXEC descriptor.
  long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) ThrowErrno(info.Env(), errno, "pidfd_open");
  return Napi::Number::New(info.Env(), double(fd));
}

Napi::Value PidfdSendSignal(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "pidfd");
  int sig = ArgInt32(info, 1, "signal", 0, _NSIG - 1);
  if (syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0) < 0) ThrowErrno(info.Env(), errno, "pidfd_send_signal");
  return info.Env().Undefined();
}

}  // namespace

void RegisterPidfd(Napi::Env env, Napi::Object exports) {
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("pidfdSendSignal", Napi::Function::New(env, PidfdSendSignal, "pidfdSendSignal"));
}

}  // namespace ocirun
