// startHook: one runtime hook as a child of this process (spawn/hook.h), for
// the Node CLI and the library; src/hooks/run.ts watches it from there.
#include <string>
#include <vector>

#include "addon/addon.h"
#include "addon/errors.h"
#include "spawn/hook.h"

namespace ocirun {
namespace {

std::vector<std::string> ArgStrings(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Env env = info.Env();
  if (!info[index].IsArray()) ThrowTypeError(env, std::string("The \"") + name + "\" argument must be an array of strings");
  Napi::Array a = info[index].As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value v = a.Get(i);
    if (!v.IsString()) ThrowTypeError(env, std::string("The \"") + name + "\" entries must be strings");
    out.push_back(v.As<Napi::String>().Utf8Value());
    if (out.back().find('\0') != std::string::npos) {
      ThrowTypeError(env, std::string("The \"") + name + "\" entries must not contain null bytes", "ERR_INVALID_ARG_VALUE");
    }
  }
  return out;
}

Napi::Value StartHookJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HookCommand cmd;
  cmd.path = ArgString(info, 0, "path");
  cmd.argv = ArgStrings(info, 1, "argv");
  if (cmd.argv.empty()) ThrowTypeError(env, "The \"argv\" argument must not be empty", "ERR_INVALID_ARG_VALUE");
  cmd.env = ArgStrings(info, 2, "env");
  Napi::Buffer<char> state = ArgBuffer(info, 3, "state");
  cmd.state.assign(state.Data(), state.Length());
  HookProcess proc;
  SysError err;
  if (!StartHook(cmd, &proc, &err)) throw MakeSystemError(env, err);
  Napi::Object r = Napi::Object::New(env);
  r.Set("pid", Napi::Number::New(env, proc.pid));
  r.Set("pidfd", Napi::Number::New(env, proc.pidfd.valid() ? proc.pidfd.release() : -1));
  r.Set("output", Napi::Number::New(env, proc.output.release()));
  return r;
}

}  // namespace

void RegisterHook(Napi::Env env, Napi::Object exports) {
  SetExports(env, exports, {{"startHook", StartHookJs}});
}

}  // namespace ocirun
