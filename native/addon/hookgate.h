// The pause at the createRuntime point (MSG_HOOKS). The spawn worker stays on
// its thread reading the helper's messages; the runtime's hooks run in JS. So
// the worker hands JS the init's pid and a duplicate of the helper socket, and
// JS writes the answer itself: 'h' to go on, 'a' to abort (the init then exits
// and the worker reports its failure as usual). JS owns and closes that fd.
#pragma once
#include <napi.h>
#include <sys/types.h>

#include <memory>

#include "addon/errors.h"
#include "spawn/spawn.h"

namespace ocirun {

class HookGate : public HookNotifier {
 public:
  // From opts.onHooks(pid, fd); nullptr when absent. Throws a TypeError (C++
  // exception) when it is not a function. Create it last: from here on it
  // keeps the event loop alive until Release().
  static std::shared_ptr<HookGate> FromOptions(Napi::Env env, Napi::Object opts);
  ~HookGate() override;

  // Worker thread: queues onHooks(pid, dup(sock)) on the JS thread.
  bool Notify(pid_t pid, int sock, SysError* err) override;
  // Worker thread, once the spawn is over either way.
  void Release();

 private:
  explicit HookGate(Napi::ThreadSafeFunction tsfn) : tsfn_(std::move(tsfn)) {}
  Napi::ThreadSafeFunction tsfn_;
  bool released_ = false;
};

}  // namespace ocirun
