// Framing of answers to the runtime and the failure record behind fail().
#include "init/msg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/protocol.h"

namespace ocirun::init {

namespace proto = ocirun::proto;

bool g_debug = false;
int g_report_fd = kPlanFd;

namespace {

Failure g_failure;

void put_record(std::string* out, uint16_t tag, const void* data, uint32_t len, uint16_t nfds = 0) {
  proto::RecordHeader h{tag, nfds, len};
  out->append(reinterpret_cast<const char*>(&h), sizeof h);
  if (len) out->append(static_cast<const char*>(data), len);
}

void put_string(std::string* out, uint16_t tag, const std::string& s) {
  put_record(out, tag, s.data(), static_cast<uint32_t>(s.size()));
}

// MSG_NOSIGNAL: the runtime may already have gone away, and SIGPIPE would kill
// us before we could clean up the child.
bool send_all(const std::string& buf) {
  size_t off = 0;
  while (off < buf.size()) {
    ssize_t n = send(g_report_fd, buf.data() + off, buf.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

bool write_all(int fd, const void* buf, size_t len) {
  const char* p = static_cast<const char*>(buf);
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool fail_msg(int err, const char* syscall, const std::string& path, std::string message) {
  g_failure.err = err;
  g_failure.syscall = syscall ? syscall : "";
  g_failure.path = path;
  g_failure.message = std::move(message);
  return false;
}

bool fail(int err, const char* syscall, const std::string& path, const char* what) {
  std::string m = what;
  if (!path.empty()) {
    m += ' ';
    m += path;
  }
  return fail_msg(err, syscall, path, std::move(m));
}

const Failure& last_failure() { return g_failure; }

void die_report() {
  std::string inner;
  uint32_t e = static_cast<uint32_t>(g_failure.err);
  put_record(&inner, proto::E_ERRNO, &e, sizeof e);
  put_string(&inner, proto::E_SYSCALL, g_failure.syscall);
  put_string(&inner, proto::E_PATH, g_failure.path);
  put_string(&inner, proto::E_MESSAGE, g_failure.message);
  std::string out;
  put_record(&out, proto::MSG_ERROR, inner.data(), static_cast<uint32_t>(inner.size()));
  debug("error: %s (%s): %s", g_failure.message.c_str(), g_failure.syscall.c_str(),
        strerror(g_failure.err));
  send_all(out);
  _exit(1);
}

void die_stderr(int code) {
  std::string line = "ocirun-init: " + g_failure.message;
  if (g_failure.err) {
    line += ": ";
    line += strerror(g_failure.err);
  }
  line += '\n';
  write_all(2, line.data(), line.size());
  _exit(code);
}

ssize_t send_with_fd(int sock, const void* data, size_t len, int fd) {
  iovec iov{const_cast<void*>(data), len};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  ssize_t n;
  do n = sendmsg(sock, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n;
}

bool send_pid(pid_t pid, int pidfd) {
  std::string buf;
  uint32_t p = static_cast<uint32_t>(pid);
  put_record(&buf, proto::MSG_PID, &p, sizeof p, pidfd >= 0 ? 1 : 0);
  ssize_t n = send_with_fd(g_report_fd, buf.data(), buf.size(), pidfd);
  if (n < 0) return fail(errno, "sendmsg", "", "send pid to runtime");
  // The fd travelled with the first byte; any tail goes as plain data.
  if (static_cast<size_t>(n) < buf.size() && !send_all(buf.substr(static_cast<size_t>(n))))
    return fail(errno, "send", "", "send pid to runtime");
  return true;
}

bool send_ready() {
  std::string buf;
  put_record(&buf, proto::MSG_READY, nullptr, 0);
  if (!send_all(buf)) return fail(errno, "send", "", "send ready to runtime");
  return true;
}

bool send_warning(const std::string& text) {
  std::string buf;
  put_string(&buf, proto::MSG_WARNING, text);
  if (!send_all(buf)) return fail(errno, "send", "", "send warning to runtime");
  return true;
}

void debug(const char* fmt, ...) {
  if (!g_debug) return;
  char line[512];
  int n = snprintf(line, sizeof line, "ocirun-init[%d]: ", getpid());
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
  va_end(ap);
  size_t len = static_cast<size_t>(n) + (m < 0 ? 0 : static_cast<size_t>(m));
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  write_all(2, line, len);
}

}  // namespace ocirun::init
