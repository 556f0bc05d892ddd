// spawnContainer: start the init helper from its sealed memfd, hand it the
// plan, and collect its answer, all on a libuv worker thread.
#include <memory>
#include <string>
#include <vector>

#include "addon/addon.h"
#include "addon/errors.h"
#include "addon/hookgate.h"
#include "common/protocol.h"
#include "spawn/spawn.h"


namespace ocirun {
namespace {
namespace proto = ocirun::proto;

class SpawnWorker : public Napi::AsyncWorker {
 public:
  SpawnWorker(Napi::Env env, Napi::Promise::Deferred deferred, SpawnRequest req, std::shared_ptr<HookGate> hooks)
      : Napi::AsyncWorker(env, "ocirun.spawnContainer"), deferred_(deferred), req_(std::move(req)),
        hooks_(std::move(hooks)) {}

  void Execute() override {
    bool ok = false;
    try {
      req_.hooks = hooks_.get();
      ok = RunSpawn(req_, &out_, &err_);
    } catch (const std::exception& e) {  // bad_alloc: nothing else throws in there
      err_ = SysError::Plain(e.what());
    }
    if (hooks_) hooks_->Release();
    if (!ok) SetError(err_.message);
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object result = Napi::Object::New(env);
    result.Set("pid", Napi::Number::New(env, out_.pid));
    result.Set("pidfd", Napi::Number::New(env, out_.pidfd.valid() ? out_.pidfd.release() : -1));
    result.Set("controlFd", Napi::Number::New(env, out_.control.valid() ? out_.control.release() : -1));
    Napi::Array warnings = Napi::Array::New(env, out_.warnings.size());
    for (uint32_t i = 0; i < out_.warnings.size(); i++) warnings.Set(i, out_.warnings[i]);
    result.Set("warnings", warnings);
    if (req_.timing) {
      Napi::Array marks = Napi::Array::New(env, out_.marks.size());
      for (uint32_t i = 0; i < out_.marks.size(); i++) {
        Napi::Array m = Napi::Array::New(env, 2);
        m.Set(0u, Napi::Number::New(env, out_.marks[i].first));
        m.Set(1u, Napi::BigInt::New(env, out_.marks[i].second));
        marks.Set(i, m);
      }
      result.Set("timings", marks);
    }
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error&) override { deferred_.Reject(MakeSystemError(Env(), err_).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  SpawnRequest req_;
  std::shared_ptr<HookGate> hooks_;  // opts.onHooks: answers MSG_HOOKS (hookgate.h)
  SpawnOutcome out_;
  SysError err_;
};

int FdFromArray(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsNumber()) ThrowTypeError(env, std::string("The \"") + name + "\" entries must be numbers");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= INT32_MAX && d == double(int64_t(d)))) {
    ThrowTypeError(env, std::string("The \"") + name + "\" entries must be file descriptors", "ERR_OUT_OF_RANGE");
  }
  return int(d);
}

SpawnRequest ParseOptions(const Napi::CallbackInfo& info, std::shared_ptr<HookGate>* hooks) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) ThrowTypeError(env, "The \"opts\" argument must be of type object");
  Napi::Object opts = info[0].As<Napi::Object>();
  SpawnRequest req;

  Napi::Value helper = opts.Get("helper");
  if (!helper.IsString()) ThrowTypeError(env, "The \"helper\" option must be of type string");
  req.helper = helper.As<Napi::String>().Utf8Value();
  if (req.helper.empty() || req.helper.find('\0') != std::string::npos) {
    ThrowTypeError(env, "The \"helper\" option must be a non-empty path without null bytes", "ERR_INVALID_ARG_VALUE");
  }

  // Copied: the worker thread must not read a Buffer that JS may detach or
  // reuse while we are still sending it.
  Napi::Value plan = opts.Get("plan");
  if (!plan.IsTypedArray() || plan.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowTypeError(env, "The \"plan\" option must be a Buffer");
  }
  Napi::Uint8Array bytes = plan.As<Napi::Uint8Array>();
  if (bytes.ByteLength() > proto::kMaxPlanBytes) {
    ThrowTypeError(env, "The \"plan\" option exceeds " + std::to_string(proto::kMaxPlanBytes) + " bytes",
                   "ERR_OUT_OF_RANGE");
  }
  req.plan.assign(bytes.Data(), bytes.Data() + bytes.ByteLength());

  Napi::Value stdio = opts.Get("stdio");
  if (!stdio.IsArray() || stdio.As<Napi::Array>().Length() != 3) {
    ThrowTypeError(env, "The \"stdio\" option must be an array of three file descriptors");
  }
  for (uint32_t i = 0; i < 3; i++) req.fds.push_back(FdFromArray(env, stdio.As<Napi::Array>().Get(i), "stdio"));

  req.timing = opts.Get("timing").ToBoolean().Value();

  Napi::Value extra = opts.Get("extraFds");
  if (!extra.IsUndefined() && !extra.IsNull()) {
    if (!extra.IsArray()) ThrowTypeError(env, "The \"extraFds\" option must be an array of file descriptors");
    Napi::Array arr = extra.As<Napi::Array>();
    if (arr.Length() > 4096) ThrowTypeError(env, "Too many \"extraFds\"", "ERR_OUT_OF_RANGE");
    for (uint32_t i = 0; i < arr.Length(); i++) req.fds.push_back(FdFromArray(env, arr.Get(i), "extraFds"));
  }
  // Last: once made, the gate holds the event loop until the worker releases it.
  *hooks = HookGate::FromOptions(env, opts);
  return req;
}

Napi::Value SpawnContainer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  SpawnRequest req;
  std::shared_ptr<HookGate> hooks;
  if (!ParseOrReject(deferred, [&] { req = ParseOptions(info, &hooks); })) return deferred.Promise();
  (new SpawnWorker(env, deferred, std::move(req), std::move(hooks)))->Queue();  // deletes itself when done
  return deferred.Promise();
}

}  // namespace

void RegisterSpawn(Napi::Env env, Napi::Object exports) {
  exports.Set("spawnContainer", Napi::Function::New(env, SpawnContainer, "spawnContainer"));
}

}  // namespace ocirun
