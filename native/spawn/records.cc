// Records on the helper and engine sockets (spawn/records.h).
#include "spawn/records.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "spawn/pidfd_of.h"
#include "common/protocol.h"

namespace ocirun {
namespace proto = ocirun::proto;

namespace {

// Messages are tiny; anything bigger is a confused helper, not a real message.
constexpr uint32_t kMaxMessageBytes = 1u << 20;
constexpr size_t kReadChunk = 64 * 1024;

SysError Protocol(const std::string& what) { return SysError::Plain("init helper protocol error: " + what); }

uint32_t ReadU32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

bool ParseError(const uint8_t* p, uint32_t len, SysError* out, SysError* err) {
  *out = SysError{};
  for (uint32_t off = 0; off < len;) {
    proto::RecordHeader h;
    if (len - off < sizeof h) {
      *err = Protocol("truncated MSG_ERROR");
      return false;
    }
    memcpy(&h, p + off, sizeof h);
    off += sizeof h;
    if (h.length > len - off) {
      *err = Protocol("truncated MSG_ERROR field");
      return false;
    }
    std::string value(reinterpret_cast<const char*>(p + off), h.length);
    switch (h.tag) {
      case proto::E_ERRNO:
        if (h.length != 4) {
          *err = Protocol("E_ERRNO is not a u32");
          return false;
        }
        out->err = int(ReadU32(p + off));
        break;
      case proto::E_SYSCALL: out->syscall = std::move(value); break;
      case proto::E_PATH: out->path = std::move(value); break;
      case proto::E_MESSAGE: out->message = std::move(value); break;
      default: break;  // extra detail we do not know how to show
    }
    off += h.length;
  }
  if (out->err == 0 && out->syscall.empty() && out->message.empty()) out->message = "init helper failed";
  return true;
}

}  // namespace

std::vector<UniqueFd> TakeRights(const msghdr* msg) {
  std::vector<UniqueFd> out;
  for (cmsghdr* c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(const_cast<msghdr*>(msg), c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      out.emplace_back(fd);
    }
  }
  return out;
}

int SendRecord(int sock, uint16_t tag, const void* payload, size_t len, const int* fds, size_t nfds) {
  if (len > UINT32_MAX || nfds > kMaxRecordFds) return EMSGSIZE;
  proto::RecordHeader h{tag, uint16_t(nfds), uint32_t(len)};
  iovec iov[2] = {{&h, sizeof h}, {const_cast<void*>(payload), len}};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxRecordFds)];
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = len ? 2 : 1;
  if (nfds) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  for (size_t sent = 0, total = sizeof h + len; sent < total;) {
    // MSG_NOSIGNAL: a peer that died must give us EPIPE, never a SIGPIPE.
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{sock, POLLOUT, 0};
      poll(&p, 1, -1);
      continue;
    }
    if (n < 0) return errno;
    msg.msg_control = nullptr;  // the descriptors went with the first bytes
    msg.msg_controllen = 0;
    sent += size_t(n);
    for (size_t skip = size_t(n); msg.msg_iovlen > 0;) {
      if (skip < msg.msg_iov[0].iov_len) {
        msg.msg_iov[0].iov_base = static_cast<char*>(msg.msg_iov[0].iov_base) + skip;
        msg.msg_iov[0].iov_len -= skip;
        break;
      }
      skip -= msg.msg_iov[0].iov_len;
      msg.msg_iov++;
      msg.msg_iovlen--;
    }
  }
  return 0;
}

bool RecordReader::Take(Record* out, int* err) {
  proto::RecordHeader h;
  if (buf_.size() - start_ < sizeof h) return false;
  memcpy(&h, buf_.data() + start_, sizeof h);
  if (h.length > max_bytes_ || h.nfds > kMaxRecordFds) {
    *err = EPROTO;
    return false;
  }
  if (buf_.size() - start_ - sizeof h < h.length) return false;
  // They travel with the header's bytes: missing ones were never sent.
  if (fds_.size() < h.nfds) {
    *err = EPROTO;
    return false;
  }
  out->tag = h.tag;
  out->payload.assign(buf_, start_ + sizeof h, h.length);
  start_ += sizeof h + h.length;
  out->fds.clear();
  for (uint16_t i = 0; i < h.nfds; i++) {
    out->fds.push_back(std::move(fds_.front()));
    fds_.pop_front();
  }
  return true;
}

RecordReader::Result RecordReader::Next(Record* out, int* err) {
  *err = 0;
  for (;;) {
    if (Take(out, err)) return kRecord;
    if (*err) return kFailed;
    if (start_ > 0) {
      buf_.erase(0, start_);
      start_ = 0;
    }
    if (eof_) {
      if (!buf_.empty()) *err = EPROTO;
      return buf_.empty() ? kEof : kFailed;
    }
    size_t old = buf_.size();
    buf_.resize(old + kReadChunk);
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxRecordFds)];
    iovec iov{buf_.data() + old, kReadChunk};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    // Every read carries a control buffer: an SCM_RIGHTS message read without
    // one would have its descriptors silently discarded by the kernel.
    ssize_t n = recvmsg(sock_, &msg, MSG_CMSG_CLOEXEC);
    int e = errno;
    buf_.resize(old + size_t(n > 0 ? n : 0));
    if (n < 0 && e == EINTR) continue;
    if (n < 0 && (e == EAGAIN || e == EWOULDBLOCK)) return kAgain;
    if (n < 0 && e == ECONNRESET) n = 0;
    if (n < 0) {
      *err = e;
      return kFailed;
    }
    for (UniqueFd& fd : TakeRights(&msg)) fds_.push_back(std::move(fd));
    if (msg.msg_flags & MSG_CTRUNC) {
      *err = EMSGSIZE;
      return kFailed;
    }
    if (n == 0) eof_ = true;
  }
}

int SendPlan(int sock, const uint8_t* plan, size_t len) {
  // One envelope record instead of shutdown(SHUT_WR): the socket must stay
  // writable for the commit byte that follows MSG_READY.
  return SendRecord(sock, proto::PLAN_ENVELOPE, plan, len, nullptr, 0);
}

MessageReader::MessageReader(int sock) : records_(sock, kMaxMessageBytes) {}

MessageReader::Result MessageReader::Next(HelperMessage* msg, SysError* err) {
  Record rec;
  int e = 0;
  switch (records_.Next(&rec, &e)) {
    case RecordReader::kRecord: break;
    case RecordReader::kEof: return kEof;
    case RecordReader::kAgain: e = EAGAIN; [[fallthrough]];
    case RecordReader::kFailed:
      *err = e == EPROTO ? Protocol("malformed record") : e == EMSGSIZE ? Protocol("too many descriptors in one message")
                         : SysError::Errno(e, "recvmsg", {}, "reading from the init helper");
      return kFailed;
  }
  const uint8_t* p = reinterpret_cast<const uint8_t*>(rec.payload.data());
  uint32_t len = uint32_t(rec.payload.size());
  *msg = HelperMessage{};
  msg->tag = rec.tag;
  if (rec.tag != proto::MSG_PID && !rec.fds.empty()) {
    *err = Protocol("descriptors with message tag " + std::to_string(rec.tag));
    return kFailed;
  }
  switch (rec.tag) {
    case proto::MSG_PID: {
      if (len != 4 || ReadU32(p) == 0 || ReadU32(p) > uint32_t(INT32_MAX) || rec.fds.size() > 1) {
        *err = Protocol("MSG_PID does not carry a valid pid");
        return kFailed;
      }
      msg->pid = pid_t(ReadU32(p));
      if (!rec.fds.empty()) {
        msg->pidfd = std::move(rec.fds[0]);
        // Killing through a wrong descriptor would be worse than having none.
        pid_t actual = PidOfPidfd(msg->pidfd.get());
        if (actual == 0 || (actual > 0 && actual != msg->pid)) {
          msg->pidfd.reset();
          *err = Protocol("the descriptor sent with MSG_PID is not a pidfd for pid " + std::to_string(msg->pid));
          return kFailed;
        }
      }
      break;
    }
    case proto::MSG_WARNING: msg->text = std::move(rec.payload); break;
    case proto::MSG_ERROR:
      if (!ParseError(p, len, &msg->error, err)) return kFailed;
      break;
    case proto::MSG_READY: break;
    case proto::MSG_HOOKS:
      if (len != 0) {
        *err = Protocol("MSG_HOOKS with a payload");
        return kFailed;
      }
      break;
    case proto::MSG_TIMING:
      if (len % 16 != 0) {
        *err = Protocol("MSG_TIMING is not a list of 16-byte entries");
        return kFailed;
      }
      for (uint32_t off = 0; off < len; off += 16) {
        uint64_t ns;
        memcpy(&ns, p + off + 8, 8);
        msg->marks.emplace_back(ReadU32(p + off), ns);
      }
      break;
    default: *err = Protocol("unknown message tag " + std::to_string(rec.tag)); return kFailed;
  }
  return kMessage;
}

}  // namespace ocirun
