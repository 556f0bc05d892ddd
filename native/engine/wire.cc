// Frames on the engine socket (engine/wire.h).
#include "engine/wire.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

namespace ocirun::engine {

int SendFrame(int sock, uint16_t type, const void* payload, size_t len, const int* fds, size_t nfds) {
  if (len > kMaxFrameBytes || nfds > kMaxFrameFds) return EMSGSIZE;
  FrameHeader h{uint32_t(len), type, uint16_t(nfds)};
  iovec iov[2] = {{&h, sizeof h}, {const_cast<void*>(payload), len}};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * (nfds ? nfds : 1)));
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = len ? 2 : 1;
  if (nfds) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  size_t total = sizeof h + len, sent = 0;
  bool first = true;
  while (sent < total) {
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{sock, POLLOUT, 0};
      poll(&p, 1, -1);
      continue;
    }
    if (n < 0) return errno;
    if (first) {  // the descriptors went with the first bytes
      msg.msg_control = nullptr;
      msg.msg_controllen = 0;
      first = false;
    }
    sent += size_t(n);
    // Advance the iovecs past what was sent.
    size_t skip = size_t(n);
    while (msg.msg_iovlen > 0 && skip >= msg.msg_iov[0].iov_len) {
      skip -= msg.msg_iov[0].iov_len;
      msg.msg_iov++;
      msg.msg_iovlen--;
    }
    if (msg.msg_iovlen > 0) {
      msg.msg_iov[0].iov_base = static_cast<char*>(msg.msg_iov[0].iov_base) + skip;
      msg.msg_iov[0].iov_len -= skip;
    }
  }
  return 0;
}

bool FrameReader::TakeFrame(Frame* out, int* err) {
  if (buf_.size() < sizeof(FrameHeader)) return false;
  FrameHeader h;
  memcpy(&h, buf_.data(), sizeof h);
  if (h.length > kMaxFrameBytes || h.nfds > kMaxFrameFds) {
    *err = EPROTO;
    return false;
  }
  if (buf_.size() < sizeof h + h.length) return false;
  if (fds_.size() < h.nfds) {
    *err = EPROTO;  // the descriptors come with the header: missing ones were never sent
    return false;
  }
  out->type = h.type;
  out->payload.assign(buf_, sizeof h, h.length);
  buf_.erase(0, sizeof h + h.length);
  out->fds.clear();
  for (uint16_t i = 0; i < h.nfds; i++) {
    out->fds.push_back(std::move(fds_.front()));
    fds_.pop_front();
  }
  return true;
}

FrameReader::Result FrameReader::Next(Frame* out, int* err) {
  *err = 0;
  for (;;) {
    if (TakeFrame(out, err)) return kFrame;
    if (*err) return kFailed;
    if (eof_) {
      if (!buf_.empty()) *err = EPROTO;
      return buf_.empty() ? kEof : kFailed;
    }
    char data[64 * 1024];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFrameFds)];
    iovec iov{data, sizeof data};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(sock_, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return kAgain;
    if (n < 0 && errno == ECONNRESET) n = 0;
    if (n < 0) {
      *err = errno;
      return kFailed;
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        fds_.emplace_back(fd);
      }
    }
    if (msg.msg_flags & MSG_CTRUNC) {
      *err = EMSGSIZE;
      return kFailed;
    }
    if (n == 0) eof_ = true;
    buf_.append(data, size_t(n));
    if (buf_.size() > sizeof(FrameHeader) + kMaxFrameBytes) {
      *err = EMSGSIZE;
      return kFailed;
    }
  }
}

std::string JsonString(const std::string& s) {
  std::string o = "\"";
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    if (c == '"' || c == '\\') {
      o += '\\';
      o += char(c);
      i++;
    } else if (c < 0x20) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", c);
      o += esc;
      i++;
    } else if (c < 0x80) {
      o += char(c);
      i++;
    } else {
      // Validate one UTF-8 sequence.
      size_t len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
      bool ok = len > 0 && i + len <= n;
      for (size_t k = 1; ok && k < len; k++) ok = (p[i + k] & 0xc0) == 0x80;
      if (ok) {
        o.append(s, i, len);
        i += len;
      } else {
        o += "\\ufffd";
        i++;
      }
    }
  }
  return o + "\"";
}

}  // namespace ocirun::engine
