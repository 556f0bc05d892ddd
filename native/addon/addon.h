// Registration entry points of each part of the addon, and the per-environment
// state (main thread and every worker_thread that loads us get their own).
#pragma once
#include <napi.h>

#include <initializer_list>

namespace ocirun {

// One entry point of the addon: its name in JS and its function.
struct Export {
  const char* name;
  Napi::Value (*fn)(const Napi::CallbackInfo&);
};
// exports[name] = fn for each, the function named as in JS (stack traces).
void SetExports(Napi::Env env, Napi::Object exports, std::initializer_list<Export> entries);

class ExitWatcher;
void DestroyExitWatcher(ExitWatcher* watcher);

struct AddonState {
  ExitWatcher* watcher = nullptr;  // started by the first watchExit()
  // src/errors.ts's SystemError and OciError, handed over by setErrorClasses()
  // at load time (as better-sqlite3 does with its SqliteError), so every error
  // the addon raises is already the project's own class.
  Napi::FunctionReference system_error;
  Napi::FunctionReference oci_error;
  ~AddonState() { DestroyExitWatcher(watcher); }
};

void RegisterErrors(Napi::Env env, Napi::Object exports);    // errors.cc
void RegisterSpawn(Napi::Env env, Napi::Object exports);
void RegisterExitWatch(Napi::Env env, Napi::Object exports);
void RegisterPidfd(Napi::Env env, Napi::Object exports);
void RegisterFsOps(Napi::Env env, Napi::Object exports);
void RegisterTerminal(Napi::Env env, Napi::Object exports);   // terminal.cc
void RegisterExecWait(Napi::Env env, Napi::Object exports);   // execwait.cc
void RegisterBpf(Napi::Env env, Napi::Object exports);        // bpf.cc
void RegisterEngine(Napi::Env env, Napi::Object exports);     // engine.cc
void RegisterHook(Napi::Env env, Napi::Object exports);       // hook.cc

}  // namespace ocirun
