#include "addon/errors.h"
#include "addon/addon.h"

#include <string.h>

#include <climits>
#include <cmath>

namespace ocirun {

const char* ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : "UNKNOWN";
}

// glibc says "No such file or directory"; Node (libuv) says "no such file or
// directory". Match Node so messages read the same whichever layer failed, but
// leave acronyms ("RPC struct is bad") alone.
static std::string Description(int err) {
  const char* d = strerrordesc_np(err);
  std::string s = d ? d : "unknown error " + std::to_string(err);
  if (s.size() > 1 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'a' && s[1] <= 'z') s[0] = char(s[0] - 'A' + 'a');
  return s;
}

// "<message>: <syscall> <path>: <CODE>: <description>", dropping absent parts
// and the parts the message already says (the init helper's messages often
// read "mount /proc" already):
//   "mounting proc: mount /proc: ENOENT: no such file or directory"
//   "mount /proc: ENOENT: no such file or directory"
//   "pidfd_open: ESRCH: no such process"
//   "init helper exited unexpectedly (exit status 1)"
// Whether `word` appears in `text` delimited by spaces or the ends.
static bool HasWord(const std::string& text, const std::string& word) {
  for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
    size_t end = at + word.size();
    if ((at == 0 || text[at - 1] == ' ') && (end == text.size() || text[end] == ' ')) return true;
  }
  return false;
}

static std::string Format(const SysError& e) {
  const std::string& m = e.message;
  bool says_path = !e.path.empty() && HasWord(m, e.path);
  bool says_syscall = !e.syscall.empty() && (m == e.syscall || m.rfind(e.syscall + " ", 0) == 0);
  std::string where = says_syscall ? "" : e.syscall;
  if (!e.path.empty() && !says_path) where += (where.empty() ? "" : " ") + e.path;
  std::string out = m;
  auto add = [&out](const std::string& part) {
    if (part.empty()) return;
    if (!out.empty()) out += ": ";
    out += part;
  };
  add(where);
  if (e.err != 0) add(std::string(ErrnoName(e.err)) + ": " + Description(e.err));
  if (out.empty()) out = "unknown error";
  return out;
}

Napi::Error MakeSystemError(Napi::Env env, const SysError& e) {
  AddonState* state = env.GetInstanceData<AddonState>();
  std::string message = Format(e);
  if (state && e.err != 0 && !state->system_error.IsEmpty()) {
    Napi::Object init = Napi::Object::New(env);
    init.Set("code", ErrnoName(e.err));
    init.Set("errno", Napi::Number::New(env, -e.err));
    init.Set("syscall", e.syscall);
    if (!e.path.empty()) init.Set("path", e.path);
    init.Set("message", message);
    return Napi::Error(env, state->system_error.New({init}));
  }
  if (state && e.err == 0 && !state->oci_error.IsEmpty()) {
    Napi::Object error = state->oci_error.New({Napi::String::New(env, "ERR_OCIRUN_HELPER"), Napi::String::New(env, message)});
    if (!e.syscall.empty()) error.Set("syscall", e.syscall);
    if (!e.path.empty()) error.Set("path", e.path);
    return Napi::Error(env, error);
  }
  Napi::Error error = Napi::Error::New(env, message);
  Napi::Object obj = error.Value();
  if (e.err != 0) {
    obj.Set("code", ErrnoName(e.err));
    obj.Set("errno", Napi::Number::New(env, -e.err));
  } else {
    obj.Set("code", "ERR_OCIRUN_HELPER");
  }
  if (!e.syscall.empty()) obj.Set("syscall", e.syscall);
  if (!e.path.empty()) obj.Set("path", e.path);
  return error;
}

// setErrorClasses(SystemError, OciError): called once by src/native/binding.ts.
static Napi::Value SetErrorClasses(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction() || !info[1].IsFunction()) ThrowTypeError(env, "setErrorClasses takes two classes");
  AddonState* state = env.GetInstanceData<AddonState>();
  state->system_error = Napi::Persistent(info[0].As<Napi::Function>());
  state->oci_error = Napi::Persistent(info[1].As<Napi::Function>());
  return env.Undefined();
}

void RegisterErrors(Napi::Env env, Napi::Object exports) {
  exports.Set("setErrorClasses", Napi::Function::New(env, SetErrorClasses, "setErrorClasses"));
}

void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& path) {
  throw MakeSystemError(env, SysError::Errno(err, syscall, path));
}

void ThrowTypeError(Napi::Env env, const std::string& message, const char* code) {
  // Node throws RangeError for ERR_OUT_OF_RANGE and TypeError for the rest.
  Napi::Error error = strcmp(code, "ERR_OUT_OF_RANGE") == 0 ? Napi::Error(Napi::RangeError::New(env, message))
                                                            : Napi::Error(Napi::TypeError::New(env, message));
  error.Value().Set("code", code);
  throw error;
}

int32_t ArgInt32(const Napi::CallbackInfo& info, size_t index, const char* name, int32_t min, int32_t max) {
  Napi::Value v = info[index];
  if (!v.IsNumber()) ThrowTypeError(info.Env(), std::string("The \"") + name + "\" argument must be of type number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::trunc(d) != d || d < min || d > max) {
    ThrowTypeError(info.Env(),
                   std::string("The value of \"") + name + "\" is out of range. It must be an integer >= " +
                       std::to_string(min) + " and <= " + std::to_string(max),
                   "ERR_OUT_OF_RANGE");
  }
  return int32_t(d);
}

int ArgFd(const Napi::CallbackInfo& info, size_t index, const char* name) {
  return ArgInt32(info, index, name, 0, INT32_MAX);
}

std::string ArgString(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value v = info[index];
  if (!v.IsString()) ThrowTypeError(info.Env(), std::string("The \"") + name + "\" argument must be of type string");
  std::string s = v.As<Napi::String>().Utf8Value();
  // A path with a NUL would be silently truncated by the kernel.
  if (s.find('\0') != std::string::npos) {
    ThrowTypeError(info.Env(), std::string("The \"") + name + "\" argument must not contain null bytes",
                   "ERR_INVALID_ARG_VALUE");
  }
  return s;
}

bool ArgBool(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value v = info[index];
  if (!v.IsBoolean()) ThrowTypeError(info.Env(), std::string("The \"") + name + "\" argument must be of type boolean");
  return v.As<Napi::Boolean>().Value();
}

Napi::Function ArgFunction(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value v = info[index];
  if (!v.IsFunction()) ThrowTypeError(info.Env(), std::string("The \"") + name + "\" argument must be of type function");
  return v.As<Napi::Function>();
}

Napi::Buffer<char> ArgBuffer(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value v = info[index];
  if (!v.IsBuffer()) ThrowTypeError(info.Env(), std::string("The \"") + name + "\" argument must be a Buffer");
  return v.As<Napi::Buffer<char>>();
}

}  // namespace ocirun
