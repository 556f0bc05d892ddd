// ConnectDaemon (frontend/daemon_link.h).
#include "frontend/daemon_link.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"  // OCIRUN_NODE
#include "spawn/unix_addr.h"

namespace ocirun::frontend {

namespace {

// A cold start is Node's start-up plus loading the CLI: well under a second
// here, but a loaded machine may take longer before we give up and fall back.
constexpr int kStartWaitMs = 10000;

int TryConnect(const std::string& path) {
  sockaddr_un addr;
  if (!UnixAddress(path, &addr)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  int e = errno;
  close(fd);
  errno = e;
  return -1;
}

// The socket's directory: made root-only (0700), and refused when it is not
// ours or is open to others, since whoever can write there could plant a
// socket that receives our caller's descriptors.
bool PrivateDir(const std::string& dir, std::string* why) {
  // The state root and its missing parents too, 0700 as the state store makes
  // them: containerd's shim passes --root <Root>/<namespace> before anything
  // made <Root>, and a first call that could not reach a daemon ran in Node.
  for (size_t at = dir.find('/', 1); at != std::string::npos; at = dir.find('/', at + 1)) mkdir(dir.substr(0, at).c_str(), 0700);
  mkdir(dir.c_str(), 0700);
  struct stat st;
  if (lstat(dir.c_str(), &st) < 0) {
    *why = dir + ": " + strerror(errno);
    return false;
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
    *why = dir + " is not a directory private to this user";
    return false;
  }
  return true;
}

// Starts the daemon detached: its own session, not our child (double fork),
// stdio on /dev/null and its log, nothing else of ours open.
bool StartDaemon(const Install& install, const std::string& engine_dir, const std::string& socket_path,
                 std::string* why) {
  std::string log = engine_dir + "/daemon.log";
  std::string script = install.daemon_script();
  if (access(script.c_str(), R_OK) < 0 || access(OCIRUN_NODE, X_OK) < 0) {
    *why = "daemon not installed (" + script + ", " + OCIRUN_NODE + ")";
    return false;
  }
  std::string path_env = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  const char* idle = getenv("OCIRUN_ENGINE_IDLE");
  std::string idle_env = std::string("OCIRUN_ENGINE_IDLE=") + (idle ? idle : "");
  const char* argv[] = {OCIRUN_NODE, script.c_str(), "--socket", socket_path.c_str(), nullptr};
  const char* envp[] = {path_env.c_str(), idle ? idle_env.c_str() : nullptr, nullptr};

  pid_t pid = fork();
  if (pid < 0) {
    *why = std::string("fork: ") + strerror(errno);
    return false;
  }
  if (pid == 0) {
    setsid();
    if (fork() != 0) _exit(0);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (null < 0 || out < 0) _exit(127);
    dup2(null, 0);
    dup2(out, 1);
    dup2(out, 2);
    close_range(3, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
    umask(022);
    if (chdir("/") < 0) _exit(127);
    execve(OCIRUN_NODE, const_cast<char* const*>(argv), const_cast<char* const*>(envp));
    _exit(127);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return true;
}

}  // namespace

int ConnectDaemon(const Install& install, const std::string& engine_dir, const std::string& socket_path,
                  bool may_start, std::string* why) {
  int fd = TryConnect(socket_path);
  if (fd >= 0) return fd;
  if (errno != ENOENT && errno != ECONNREFUSED) {
    *why = socket_path + ": " + strerror(errno);
    return -1;
  }
  if (!may_start) {
    *why = "no daemon at " + socket_path;
    return -1;
  }
  if (!PrivateDir(engine_dir, why)) return -1;
  if (!StartDaemon(install, engine_dir, socket_path, why)) return -1;
  timespec start{};
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (int delay_us = 2000;; delay_us = delay_us < 20000 ? delay_us * 2 : 20000) {
    fd = TryConnect(socket_path);
    if (fd >= 0) return fd;
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    long waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    if (waited > kStartWaitMs) {
      *why = "the daemon did not come up at " + socket_path + " (see " + engine_dir + "/daemon.log)";
      return -1;
    }
    usleep(useconds_t(delay_us));
  }
}

}  // namespace ocirun::frontend
