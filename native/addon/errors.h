// Node-style system errors for every entry point of the addon.
#pragma once
#include <napi.h>

#include <string>

#include "spawn/syserror.h"

namespace ocirun {

// A SystemError (src/errors.ts) with .code (errno name), .errno (negative, as
// in Node), .syscall, .path; with err == 0 an OciError with code
// ERR_OCIRUN_HELPER and no .errno. Before setErrorClasses() has been called
// (the addon loaded on its own), a plain Error with the same properties.
Napi::Error MakeSystemError(Napi::Env env, const SysError& e);

// Throws (as a C++ exception; the addon is built with NAPI_CPP_EXCEPTIONS).
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& path = {});

// "ENOENT"; "UNKNOWN" for numbers glibc does not name.
const char* ErrnoName(int err);

// Argument checking with Node's codes: TypeError for ERR_INVALID_ARG_TYPE and
// ERR_INVALID_ARG_VALUE, RangeError for ERR_OUT_OF_RANGE.
[[noreturn]] void ThrowTypeError(Napi::Env env, const std::string& message, const char* code = "ERR_INVALID_ARG_TYPE");
int32_t ArgInt32(const Napi::CallbackInfo& info, size_t index, const char* name, int32_t min, int32_t max);
int ArgFd(const Napi::CallbackInfo& info, size_t index, const char* name);
std::string ArgString(const Napi::CallbackInfo& info, size_t index, const char* name);
bool ArgBool(const Napi::CallbackInfo& info, size_t index, const char* name);
Napi::Function ArgFunction(const Napi::CallbackInfo& info, size_t index, const char* name);
Napi::Buffer<char> ArgBuffer(const Napi::CallbackInfo& info, size_t index, const char* name);

// For promise-returning entry points: runs parse(), and an argument error it
// throws rejects `deferred` instead, like any promise-returning Node API.
// False when it did.
template <class Parse>
bool ParseOrReject(Napi::Promise::Deferred& deferred, Parse parse) {
  try {
    parse();
    return true;
  } catch (const Napi::Error& e) {
    deferred.Reject(e.Value());
    return false;
  }
}

}  // namespace ocirun
