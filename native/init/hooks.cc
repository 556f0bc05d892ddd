// The hooks that belong to the init: the pause at the createRuntime point
// (the runtime runs prestart and createRuntime hooks meanwhile, in its own
// namespaces), createContainer hooks (container namespaces, before pivot_root,
// so their paths resolve in the runtime's file system) and startContainer
// hooks (after `start` released us, paths resolved in the container).
//
// A hook gets the state JSON on stdin from a memfd (so a hook that never reads
// cannot block us), stdout and stderr into one pipe whose head ends up in the
// error message, and its own process group so a timeout kills what it started.
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "common/protocol.h"
#include "init/msg.h"
#include "init/steps.h"

namespace ocirun::init {

namespace {

namespace proto = ocirun::proto;

constexpr size_t kMaxOutput = 2048;  // of the hook's output kept for the error message

int64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::vector<char*> c_strings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

[[noreturn]] void exec_hook(const Hook& h, int in, int out) {
  setpgid(0, 0);
  // Ours, not the runtime's, is the death that matters here: an init killed
  // mid-setup must not leave its hook running.
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) _exit(127);
  close_range(3, ~0u, 0);
  reset_signals();
  std::vector<std::string> args = h.args.empty() ? std::vector<std::string>{h.path} : h.args;
  std::vector<char*> argv = c_strings(args);
  std::vector<char*> envp = c_strings(h.env);
  execve(h.path.c_str(), argv.data(), envp.data());
  std::string msg = "exec " + h.path + ": " + strerror(errno) + "\n";
  write_all(2, msg.data(), msg.size());
  _exit(127);
}

const char* kind_name(uint32_t kind) {
  return kind == HOOK_CREATE_CONTAINER ? "createContainer" : "startContainer";
}

// "<kind> hook #<i> (<path>): <what>[: <output>]", the format the runtime's own hooks use.
// The output goes in on one line, whitespace runs squeezed: the CLI prints one-line errors.
bool hook_failed(const Hook& h, size_t index, const std::string& what, const std::string& output) {
  std::string flat;
  for (char c : output) {
    bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!space) flat += c;
    else if (!flat.empty() && flat.back() != ' ') flat += ' ';
  }
  if (!flat.empty() && flat.back() == ' ') flat.pop_back();
  std::string m = std::string(kind_name(h.kind)) + " hook #" + std::to_string(index) + " (" + h.path + "): " + what;
  if (!flat.empty()) m += ": " + flat;
  return fail_msg(0, "", "", std::move(m));
}

// Reads what is there; false once the pipe is at EOF.
bool keep_output(int fd, std::string* out) {
  char buf[1024];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      if (out->size() < kMaxOutput) out->append(buf, std::min(size_t(n), kMaxOutput - out->size()));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

bool run_hook(const Hook& h, size_t index, const std::string& state) {
  int in = memfd_create("ocirun-hook-state", MFD_CLOEXEC);
  if (in < 0) return fail(errno, "memfd_create", "", "pass state to hook");
  if (!write_all(in, state.data(), state.size()) || lseek(in, 0, SEEK_SET) < 0) {
    int e = errno;
    close(in);
    return fail(e, "write", "", "pass state to hook");
  }
  int out[2];
  if (pipe2(out, O_CLOEXEC) < 0) {
    int e = errno;
    close(in);
    return fail(e, "pipe2", "", "capture hook output");
  }
  int pidfd = -1;
  clone_args args{};
  args.flags = CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) exec_hook(h, in, out[1]);
  int e = errno;
  close(in);
  close(out[1]);
  if (pid < 0) {
    close(out[0]);
    return fail(e, "clone3", h.path, "start hook");
  }
  fcntl(out[0], F_SETFL, O_NONBLOCK);

  std::string output;
  bool open = true, timed_out = false;
  const int64_t deadline = h.timeout ? now_ms() + int64_t(h.timeout) * 1000 : 0;
  for (;;) {
    pollfd fds[2] = {{pidfd, POLLIN, 0}, {out[0], POLLIN, 0}};
    int wait = -1;
    if (deadline) wait = int(std::max<int64_t>(0, deadline - now_ms()));
    int r = poll(fds, open ? 2 : 1, wait);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      timed_out = true;
      // The group first: a shell hook's children would otherwise outlive it.
      kill(-static_cast<pid_t>(pid), SIGKILL);
      kill(static_cast<pid_t>(pid), SIGKILL);
      break;
    }
    if (open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) open = keep_output(out[0], &output);
    // Exited: what its children still write is not ours to wait for.
    if (fds[0].revents & POLLIN) break;
  }
  int status = 0;
  pid_t w;
  do w = waitpid(static_cast<pid_t>(pid), &status, 0);
  while (w < 0 && errno == EINTR);
  keep_output(out[0], &output);
  close(out[0]);
  close(pidfd);

  if (timed_out) return hook_failed(h, index, "timed out after " + std::to_string(h.timeout) + "s", output);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  if (WIFEXITED(status)) return hook_failed(h, index, "exit status " + std::to_string(WEXITSTATUS(status)), output);
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    std::string sig = name ? std::string("SIG") + name : std::to_string(WTERMSIG(status));
    return hook_failed(h, index, "killed by signal " + sig, output);
  }
  return hook_failed(h, index, "failed", output);
}

bool run_kind(const Plan& plan, uint32_t kind, const std::vector<std::string>& pieces) {
  size_t index = 0;
  for (const auto& h : plan.hooks) {
    if (h.kind != kind) continue;
    // The pid as the hook sees it: ours, in the container's pid namespace.
    std::string state = pieces[0] + std::to_string(getpid()) + pieces[1];
    debug("%s hook #%zu: %s", kind_name(kind), index, h.path.c_str());
    if (!run_hook(h, index, state)) return false;
    index++;
  }
  return true;
}

}  // namespace

bool create_hooks(const Plan& plan) {
  // The runtime's hooks failed (or it went away): it reports why, we just go.
  if (plan.hooks_pause && !pause_for_runtime("run its hooks")) _exit(1);
  return run_kind(plan, HOOK_CREATE_CONTAINER, plan.hook_state_create);
}

bool pause_for_runtime(const char* why) {
  proto::RecordHeader msg{proto::MSG_HOOKS, 0, 0};
  ssize_t n;
  do n = send(kPlanFd, &msg, sizeof msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  std::string what = std::string("ask the runtime to ") + why;
  if (n != sizeof msg) return fail_msg(errno, "send", "", what);
  char go = 0;
  do n = read(kPlanFd, &go, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1 || go != 'h') return fail_msg(n < 0 ? errno : ECANCELED, "read", "", "the runtime did not " + std::string(why));
  return true;
}

bool start_hooks(const Plan& plan, int fifo) {
  bool ok = run_kind(plan, HOOK_START_CONTAINER, plan.hook_state_start);
  // `start` is still reading the fifo: "0" lets it go on, "E<message>" fails it.
  std::string answer = ok ? "0" : "E" + last_failure().message;
  return write_all(fifo, answer.data(), answer.size()) && ok;
}

}  // namespace ocirun::init
