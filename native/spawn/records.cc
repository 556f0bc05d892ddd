#include "spawn/records.h"

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
constexpr size_t kMaxFdsPerRead = 16;

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

int SendPlan(int sock, const uint8_t* plan, size_t len) {
  // One envelope record instead of shutdown(SHUT_WR): the socket must stay
  // writable for the commit byte that follows MSG_READY.
  proto::RecordHeader h{proto::PLAN_ENVELOPE, 0, static_cast<uint32_t>(len)};
  const struct { const uint8_t* p; size_t n; } parts[] = {{reinterpret_cast<const uint8_t*>(&h), sizeof h}, {plan, len}};
  for (const auto& part : parts) {
    for (size_t off = 0; off < part.n;) {
      // MSG_NOSIGNAL: a helper that died must give us EPIPE, never a SIGPIPE.
      ssize_t n = send(sock, part.p + off, part.n - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno;
      off += size_t(n);
    }
  }
  return 0;
}

MessageReader::ParseResult MessageReader::Parse(HelperMessage* msg, SysError* err) {
  proto::RecordHeader h;
  size_t avail = buf_.size() - start_;
  if (avail < sizeof h) return kNeedMore;
  memcpy(&h, buf_.data() + start_, sizeof h);
  if (h.zero != 0 || h.length > kMaxMessageBytes) {
    *err = Protocol("malformed record header (tag " + std::to_string(h.tag) + ")");
    return kBad;
  }
  if (avail - sizeof h < h.length) return kNeedMore;
  const uint8_t* p = buf_.data() + start_ + sizeof h;
  start_ += sizeof h + h.length;

  *msg = HelperMessage{};
  msg->tag = h.tag;
  switch (h.tag) {
    case proto::MSG_PID: {
      if (h.length != 4 || ReadU32(p) == 0 || ReadU32(p) > uint32_t(INT32_MAX)) {
        *err = Protocol("MSG_PID does not carry a valid pid");
        return kBad;
      }
      msg->pid = pid_t(ReadU32(p));
      if (!fds_.empty()) {
        msg->pidfd = std::move(fds_.front());
        fds_.pop_front();
        // Killing through a wrong descriptor would be worse than having none.
        pid_t actual = PidOfPidfd(msg->pidfd.get());
        if (actual == 0 || (actual > 0 && actual != msg->pid)) {
          msg->pidfd.reset();
          *err = Protocol("the descriptor sent with MSG_PID is not a pidfd for pid " + std::to_string(msg->pid));
          return kBad;
        }
      }
      break;
    }
    case proto::MSG_WARNING: msg->text.assign(reinterpret_cast<const char*>(p), h.length); break;
    case proto::MSG_ERROR:
      if (!ParseError(p, h.length, &msg->error, err)) return kBad;
      break;
    case proto::MSG_READY: break;
    case proto::MSG_HOOKS:
      if (h.length != 0) {
        *err = Protocol("MSG_HOOKS with a payload");
        return kBad;
      }
      break;
    case proto::MSG_TIMING:
      if (h.length % 16 != 0) {
        *err = Protocol("MSG_TIMING is not a list of 16-byte entries");
        return kBad;
      }
      for (uint32_t off = 0; off < h.length; off += 16) {
        uint64_t ns;
        memcpy(&ns, p + off + 8, 8);
        msg->marks.emplace_back(ReadU32(p + off), ns);
      }
      break;
    default: *err = Protocol("unknown message tag " + std::to_string(h.tag)); return kBad;
  }
  return kGot;
}

MessageReader::Result MessageReader::Next(HelperMessage* msg, SysError* err) {
  for (;;) {
    switch (Parse(msg, err)) {
      case kGot: return kMessage;
      case kBad: return kFailed;
      case kNeedMore: break;
    }

    if (start_ > 0) {
      buf_.erase(buf_.begin(), buf_.begin() + ptrdiff_t(start_));
      start_ = 0;
    }
    size_t old = buf_.size();
    buf_.resize(old + kReadChunk);
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerRead)];
    iovec iov{buf_.data() + old, kReadChunk};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    // Every read carries a control buffer: an SCM_RIGHTS message read without
    // one would have its descriptors silently discarded by the kernel.
    ssize_t n = recvmsg(sock_, &mh, MSG_CMSG_CLOEXEC);
    int saved = errno;
    buf_.resize(old + size_t(n > 0 ? n : 0));
    if (n < 0 && saved == EINTR) continue;
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); n >= 0 && c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        fds_.emplace_back(fd);
      }
    }
    if (n >= 0 && (mh.msg_flags & MSG_CTRUNC)) {
      *err = Protocol("too many descriptors in one message");
      return kFailed;
    }
    if (n == 0 || (n < 0 && saved == ECONNRESET)) return kEof;
    if (n < 0) {
      *err = SysError::Errno(saved, "recvmsg", {}, "reading from the init helper");
      return kFailed;
    }
  }
}

}  // namespace ocirun
