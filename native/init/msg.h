// Messages to the runtime (MSG_* records on fd 3) and failure bookkeeping.
// Steps return false after calling fail(); the stage driver then reports the
// recorded failure once, so no step needs to know where errors go.
#pragma once
#include <stdint.h>
#include <sys/types.h>
#include <string>

namespace ocirun::init {

constexpr int kPlanFd = 3;
// Where MSG_* records go: kPlanFd, unless exec mode moved the socket above the
// container's extra fds (exec_user keeps it open until execve).
extern int g_report_fd;
extern bool g_debug;

struct Failure {
  int err = 0;
  std::string syscall, path, message;
};

// Records a failure: message becomes "<what> <path>" (or just what). Pass errno
// as the first argument so nothing evaluated before the call can clobber it.
bool fail(int err, const char* syscall, const std::string& path, const char* what);
// Records a failure with a fully formed message.
bool fail_msg(int err, const char* syscall, const std::string& path, std::string message);
const Failure& last_failure();

// Sends the recorded failure as MSG_ERROR on fd 3 and _exit(1).
[[noreturn]] void die_report();
// After start nobody reads fd 3: prints "ocirun-init: <message>: <strerror>" to fd 2.
[[noreturn]] void die_stderr(int code);

// One sendmsg() of data with fd attached as SCM_RIGHTS (none if fd < 0), retried
// on EINTR, never raising SIGPIPE. Returns what sendmsg returned.
ssize_t send_with_fd(int sock, const void* data, size_t len, int fd);
bool send_pid(pid_t pid, int pidfd);
bool send_ready();
// MSG_WARNING: shown to the user by the runtime; only before MSG_READY.
bool send_warning(const std::string& text);
void debug(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Full write, retrying EINTR and short writes.
bool write_all(int fd, const void* buf, size_t len);

}  // namespace ocirun::init
