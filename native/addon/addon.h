// Registration entry points of each part of the addon, and the per-environment
// state (main thread and every worker_thread that loads us get their own).
#pragma once
#include <napi.h>

namespace ocirun {

class ExitWatcher;
void DestroyExitWatcher(ExitWatcher* watcher);

struct AddonState {
  ExitWatcher* watcher = nullptr;  // started by the first watchExit()
  ~AddonState() { DestroyExitWatcher(watcher); }
};

void RegisterSpawn(Napi::Env env, Napi::Object exports);
void RegisterExitWatch(Napi::Env env, Napi::Object exports);
void RegisterPidfd(Napi::Env env, Napi::Object exports);
void RegisterFsOps(Napi::Env env, Napi::Object exports);
void RegisterTerminal(Napi::Env env, Napi::Object exports);   // terminal.cc
void RegisterExecWait(Napi::Env env, Napi::Object exports);   // execwait.cc
void RegisterBpf(Napi::Env env, Napi::Object exports);        // bpf.cc

}  // namespace ocirun
