// Records with descriptors on a stream socket (common/protocol.h's
// RecordHeader: the header says how many descriptors came with it), one
// reader and one writer for both sockets that carry them: the helper's
// (MessageReader below: the plan out, MSG_* records in) and the engine
// socket between the front end and the daemon (engine/wire.h).
#pragma once
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "spawn/syserror.h"
#include "spawn/fd.h"

namespace ocirun {

// SCM_MAX_FD: the kernel's limit per sendmsg, so per record.
constexpr uint16_t kMaxRecordFds = 253;

// The descriptors (SCM_RIGHTS) a recvmsg() returned in `msg`, now ours.
std::vector<UniqueFd> TakeRights(const msghdr* msg);

struct Record {
  uint16_t tag = 0;
  std::string payload;
  std::vector<UniqueFd> fds;  // this process's now (CLOEXEC)
};

// Sends one record, its descriptors (SCM_RIGHTS) with its first bytes; polls
// while a non-blocking socket is full. 0 or an errno (EMSGSIZE: too big).
int SendRecord(int sock, uint16_t tag, const void* payload, size_t len, const int* fds, size_t nfds);

class RecordReader {
 public:
  RecordReader(int sock, uint32_t max_bytes) : sock_(sock), max_bytes_(max_bytes) {}
  enum Result { kRecord, kAgain, kEof, kFailed };
  // Reads what is there (the socket may be non-blocking: kAgain) and returns
  // the next whole record. kFailed: an errno in *err, EPROTO for a malformed
  // record or one whose descriptors never came. ECONNRESET counts as EOF: the
  // kernel reports it when the peer exits with our bytes unread.
  Result Next(Record* out, int* err);

 private:
  bool Take(Record* out, int* err);
  int sock_;
  uint32_t max_bytes_;
  std::string buf_;
  size_t start_ = 0;
  std::deque<UniqueFd> fds_;  // arrived with headers not yet parsed
  bool eof_ = false;
};

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

// The helper's MSG_* records, decoded, from its (blocking) socket.
class MessageReader {
 public:
  explicit MessageReader(int sock);
  enum Result { kMessage, kEof, kFailed };
  // kFailed sets *err (read error or protocol violation).
  Result Next(HelperMessage* msg, SysError* err);

 private:
  RecordReader records_;
};

}  // namespace ocirun
