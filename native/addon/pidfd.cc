// pidfdOpen / pidfdSendSignal.


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
#include "spawn/fd.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

namespace ocirun {

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
  SetExports(env, exports, {{"pidfdOpen", PidfdOpen}, {"pidfdSendSignal", PidfdSendSignal}});
}

}  // namespace ocirun
