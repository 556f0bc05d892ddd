// The engine socket between the native front end (native/frontend) and the
// resident daemon (src/daemon; src/daemon/wire.ts mirrors the numbers below
// and a unit test compares them with this file).
//
// One AF_UNIX SOCK_STREAM connection per call. Both directions carry frames,
// which are the helper socket's records (common/protocol.h: u16 type | u16
// nfds | u32 length | payload, the descriptors as SCM_RIGHTS with the
// header), read and written by spawn/records.h's RecordReader and
// SendRecord. Payloads are JSON unless noted.
#pragma once
#include <stdint.h>

#include <string>

namespace ocirun::engine {

// The largest frame either side accepts (a plan is at most 64 MiB, plus JSON).
constexpr uint32_t kMaxFrameBytes = 80u << 20;

// Front end -> daemon.
enum : uint16_t {
  // {build, argv, cwd, env, umask, fds}: fds = the caller's descriptor numbers, in the order sent.
  F_REQUEST = 1,
  // {ok, pid, pidfd, warnings, timings} + [pidfd], control | {ok: false, error: {errno, syscall, path, message}}
  F_SPAWNED = 2,
  // {pid} + a duplicate of the helper socket: answer 'h' or 'a' on it (MSG_HOOKS).
  F_HOOKS = 3,
  // {pid, exitCode, signal}: a child named by D_WAIT has exited (reaped).
  F_EXITED = 4,
  // {signo}: the front end received a signal named by D_SIGNALS.
  F_SIGNAL = 5,
  // {ok, pid} + [output] | {ok: false, error}: the hook D_HOOK asked for is our
  // child now (its exit comes by D_WAIT), the fd the read end of its output.
  F_HOOK = 6,
};

// Daemon -> front end.
enum : uint16_t {
  // The request passed the daemon's checks and is being run: from here on a
  // lost connection means the call may have done something.
  D_ACK = 10,
  // u32 json length | {timing} | plan bytes; fds = stdio 0..2, then the extra fds.
  D_SPAWN = 11,
  // {pid}: wait for this child of the front end and answer F_EXITED.
  D_WAIT = 12,
  // {signals: [signo...]}: from now on catch these and send F_SIGNAL.
  D_SIGNALS = 13,
  // {code}: the call is over; exit with this code.
  D_EXIT = 14,
  // {reason}: this daemon will not run the call (and did nothing for it): run
  // it in a fresh Node process.
  D_FALLBACK = 15,
  // Binary: u32 argc | u32 envc | path, argv[argc], env[envc] each ending in
  // NUL | the state JSON. Start this runtime hook (spawn/hook.h); answer F_HOOK.
  D_HOOK = 16,
};

// JSON string literal for s (quotes included); bytes that are not valid UTF-8
// are replaced by U+FFFD, as JSON.parse would need.
std::string JsonString(const std::string& s);

}  // namespace ocirun::engine
