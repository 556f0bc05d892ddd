#include "addon/hookgate.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

namespace ocirun {

namespace {

struct HookCall {
  pid_t pid;
  int fd;
};

// The init reads this byte; anything but 'h' makes it exit.
void Abort(int fd) {
  ssize_t n;
  do n = write(fd, "a", 1);
  while (n < 0 && errno == EINTR);
  close(fd);
}

}  // namespace

std::shared_ptr<HookGate> HookGate::FromOptions(Napi::Env env, Napi::Object opts) {
  Napi::Value fn = opts.Get("onHooks");
  if (fn.IsUndefined() || fn.IsNull()) return nullptr;
  if (!fn.IsFunction()) ThrowTypeError(env, "The \"onHooks\" option must be a function");
  auto tsfn = Napi::ThreadSafeFunction::New(env, fn.As<Napi::Function>(), "ocirun.hooks", 0, 1);
  return std::shared_ptr<HookGate>(new HookGate(std::move(tsfn)));
}

HookGate::~HookGate() { Release(); }

bool HookGate::Notify(pid_t pid, int sock, SysError* err) {
  int fd = fcntl(sock, F_DUPFD_CLOEXEC, 3);
  if (fd < 0) {
    *err = SysError::Errno(errno, "fcntl", {}, "handing the hook point to the runtime");
    return false;
  }
  auto* call = new HookCall{pid, fd};
  napi_status st = tsfn_.BlockingCall(call, [](Napi::Env env, Napi::Function fn, HookCall* c) {
    HookCall mine = *c;
    delete c;
    // No JS to run the hooks (the environment is going away): abort.
    if (env == nullptr || fn == nullptr) return Abort(mine.fd);
    fn.Call({Napi::Number::New(env, mine.pid), Napi::Number::New(env, mine.fd)});
  });
  if (st != napi_ok) {
    delete call;
    Abort(fd);
    *err = SysError::Plain("cannot run the runtime's hooks: the JavaScript environment is shutting down");
    return false;
  }
  return true;
}

void HookGate::Release() {
  if (released_) return;
  released_ = true;
  tsfn_.Release();
}

}  // namespace ocirun
