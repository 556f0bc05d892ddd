// awaitExec: after the commit byte, an exec'd process keeps the helper socket
// open (close-on-exec) until its execve. EOF therefore means the program is
// running; a MSG_ERROR that it never started. Bounded by the process's own
// setup, so a libuv pool thread may wait for it.
#include <stdint.h>

#include "addon/addon.h"
#include "addon/errors.h"
#include "spawn/fd.h"
#include "spawn/records.h"
#include "common/protocol.h"

namespace ocirun {
namespace {

class ExecWaitWorker : public Napi::AsyncWorker {
 public:
  ExecWaitWorker(Napi::Env env, Napi::Promise::Deferred deferred, int fd)
      : Napi::AsyncWorker(env, "ocirun.awaitExec"), deferred_(deferred), sock_(fd) {}

  void Execute() override {
    MessageReader reader(sock_.get());
    for (;;) {
      HelperMessage msg;
      SysError err;
      MessageReader::Result r = reader.Next(&msg, &err);
      if (r == MessageReader::kEof) break;
      if (r == MessageReader::kFailed) {
        err_ = err;
        SetError(err_.message);
        break;
      }
      if (msg.tag == proto::MSG_ERROR) {
        err_ = msg.error;
        SetError(err_.message.empty() ? "exec failed" : err_.message);
        break;
      }
    }
    sock_.reset();
  }

  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error&) override { deferred_.Reject(MakeSystemError(Env(), err_).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  UniqueFd sock_;
  SysError err_;
};

Napi::Value AwaitExec(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  int fd = -1;
  if (!ParseOrReject(deferred, [&] { fd = ArgFd(info, 0, "controlFd"); })) return deferred.Promise();
  (new ExecWaitWorker(env, deferred, fd))->Queue();  // owns and closes fd
  return deferred.Promise();
}

}  // namespace

void RegisterExecWait(Napi::Env env, Napi::Object exports) {
  exports.Set("awaitExec", Napi::Function::New(env, AwaitExec, "awaitExec"));
}

}  // namespace ocirun
