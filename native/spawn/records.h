// The runtime's side of the helper socket: send the plan, read MSG_* records.
#pragma once
#include <stdint.h>
#include <sys/types.h>

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "spawn/syserror.h"
#include "spawn/fd.h"

namespace ocirun {

// Writes `plan` inside one PLAN_ENVELOPE record; the socket stays open both
// ways (the commit byte follows MSG_READY).
// Returns 0 or the errno of the failed send; EPIPE/ECONNRESET mean the helper
// went away early and has probably said why on the socket.
int SendPlan(int sock, const uint8_t* plan, size_t len);

struct HelperMessage {
  uint16_t tag = 0;
  pid_t pid = 0;       // MSG_PID
  UniqueFd pidfd;      // MSG_PID, when a descriptor came with it
  std::string text;    // MSG_WARNING
  SysError error;      // MSG_ERROR
  std::vector<std::pair<uint32_t, uint64_t>> marks;  // MSG_TIMING: phase, CLOCK_MONOTONIC ns
};

class MessageReader {
 public:
  explicit MessageReader(int sock) : sock_(sock) {}
  enum Result { kMessage, kEof, kFailed };
  // kFailed sets *err (read error or protocol violation). ECONNRESET counts as
  // EOF: the kernel reports it when the helper exits with plan bytes unread.
  Result Next(HelperMessage* msg, SysError* err);

 private:
  enum ParseResult { kNeedMore, kGot, kBad };
  ParseResult Parse(HelperMessage* msg, SysError* err);
  int sock_;
  std::vector<uint8_t> buf_;
  size_t start_ = 0;
  std::deque<UniqueFd> fds_;  // SCM_RIGHTS descriptors not yet claimed by a MSG_PID
};

}  // namespace ocirun
