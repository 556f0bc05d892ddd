// Module entry: the NativeBinding of src/native/binding.ts.
#include "addon/addon.h"

namespace ocirun {

void SetExports(Napi::Env env, Napi::Object exports, std::initializer_list<Export> entries) {
  for (const Export& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonState);
  RegisterErrors(env, exports);
  RegisterSpawn(env, exports);
  RegisterExitWatch(env, exports);
  RegisterPidfd(env, exports);
  RegisterFsOps(env, exports);
  RegisterTerminal(env, exports);
  RegisterExecWait(env, exports);
  RegisterBpf(env, exports);
  RegisterEngine(env, exports);
  RegisterHook(env, exports);
  return exports;
}

}  // namespace ocirun

// The macro pastes its argument into an identifier, so it needs an unqualified name.
static Napi::Object InitOcirun(Napi::Env env, Napi::Object exports) { return ocirun::Init(env, exports); }
NODE_API_MODULE(ocirun_native, InitOcirun)
