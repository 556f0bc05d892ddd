// The last mile: working directory, executable lookup, the exec.fifo barrier,
// the fd table the user program inherits, and execve.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "init/fd.h"
#include "init/msg.h"
#include "init/pathres.h"
#include "init/steps.h"

namespace ocirun::init {

namespace {

constexpr int kFirstExtraIn = 4;   // ours: 0-2 stdio, 3 the plan socket
constexpr int kFirstExtraOut = 3;  // the container's: right after stdio
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Go's exec.LookPath rule, which runc's messages come from: a regular file
// with any execute bit.
bool is_executable(const std::string& path, int* err) {
  struct stat st;
  if (stat(path.c_str(), &st) < 0) {
    *err = errno;
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    *err = EISDIR;
    return false;
  }
  if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111)) {
    *err = EACCES;
    return false;
  }
  return true;
}

std::string lower_first(const char* s) {
  std::string out = s;
  if (!out.empty() && out[0] >= 'A' && out[0] <= 'Z') out[0] = static_cast<char>(out[0] - 'A' + 'a');
  return out;
}

std::vector<char*> c_strings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::vector<int> inherited_extra_fds() {
  std::vector<int> fds;
  DIR* d = opendir("/proc/self/fd");
  if (!d) {
    // No /proc: probe a bounded range instead of trusting an empty table.
    for (int fd = kFirstExtraIn; fd < 1024; fd++)
      if (fcntl(fd, F_GETFD) >= 0) fds.push_back(fd);
    return fds;
  }
  int self = dirfd(d);
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    int fd = atoi(e->d_name);
    if (fd >= kFirstExtraIn && fd != self) fds.push_back(fd);
  }
  closedir(d);
  std::sort(fds.begin(), fds.end());
  return fds;
}

bool enter_cwd(const Process& p) {
  Fd root(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) return fail(errno, "open", "/", "open root");
  // Resolved inside the new root and entered by fd, so the working directory
  // can never be a host directory (CVE-2024-21626).
  Fd dir(mkpath_in_root(root.get(), p.cwd, Leaf::Dir));
  if (dir.get() < 0) return false;
  if (fchdir(dir.get()) < 0) return fail(errno, "chdir", p.cwd, "enter working directory");
  return true;
}

bool find_executable(const Process& p, std::string* path) {
  const std::string& name = p.args[0];
  int err = 0;
  if (name.find('/') != std::string::npos) {
    if (is_executable(name, &err)) {
      *path = name;
      return true;
    }
    return fail_msg(err, "exec", name, "exec: \"" + name + "\": stat " + name + ": " + lower_first(strerror(err)));
  }
  std::string search = kDefaultPath;
  for (const auto& e : p.env)
    if (e.compare(0, 5, "PATH=") == 0) search = e.substr(5);
  size_t i = 0;
  while (i <= search.size()) {
    size_t j = search.find(':', i);
    if (j == std::string::npos) j = search.size();
    std::string dir = search.substr(i, j - i);
    if (dir.empty()) dir = ".";  // an empty PATH entry means the working directory
    std::string candidate = dir + "/" + name;
    if (is_executable(candidate, &err)) {
      *path = candidate;
      return true;
    }
    i = j + 1;
  }
  return fail_msg(ENOENT, "exec", name, "exec: \"" + name + "\": executable file not found in $PATH");
}

bool wait_for_start(int statedirfd, const Plan& plan) {
  // Blocks until `start` opens the read side. If `delete` removed the fifo
  // instead, the open fails and the container never runs.
  int fd;
  do fd = openat(statedirfd, "exec.fifo", O_WRONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return false;
  struct stat st;
  // Only a fifo is a barrier; a regular file here would start us at once.
  // start_hooks answers `start` through the fifo once startContainer hooks ran.
  bool ok = fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && start_hooks(plan, fd);
  close(fd);
  return ok;
}

bool take_inherited_fd(std::vector<int>* extra, int fd) {
  auto it = std::find(extra->begin(), extra->end(), fd);
  if (it == extra->end()) return false;
  extra->erase(it);
  return true;
}

void exec_user(const Process& p, const std::string& path, const std::vector<int>& extra, int report_fd) {
  auto die = [report_fd](int code) {
    if (report_fd >= 0) die_report();
    die_stderr(code);
  };
  // Extra fds move down to 3, 4, ... in their original order. Sources are
  // ascending and each target is below its source, so no dup2 clobbers a
  // source still to be moved; dup2 also clears FD_CLOEXEC on the copies.
  int next = kFirstExtraOut;
  for (int fd : extra) {
    if (fd != next && dup2(fd, next) < 0) {
      fail(errno, "dup2", "", "pass extra file descriptor");
      die(1);
    }
    if (fd == next) fcntl(fd, F_SETFD, 0);
    next++;
  }
  // Everything else (rootfd, state dir, sockets, pidfds...) must not reach the
  // container: close it outright instead of trusting O_CLOEXEC everywhere. The
  // report fd (CLOEXEC, above all extras) stays until execve closes it.
  if (report_fd >= next) {
    if (report_fd > next) close_range(static_cast<unsigned>(next), static_cast<unsigned>(report_fd - 1), 0);
    close_range(static_cast<unsigned>(report_fd + 1), ~0u, 0);
  } else {
    close_range(static_cast<unsigned>(next), ~0u, 0);
  }

  reset_signals();

  std::vector<char*> argv = c_strings(p.args);
  std::vector<char*> envp = c_strings(p.env);
  execve(path.c_str(), argv.data(), envp.data());
  fail_msg(errno, "execve", path, "exec " + path);
  die(127);
  __builtin_unreachable();  // die() ends in die_report/die_stderr, both noreturn
}

}  // namespace ocirun::init
