// RunCall (frontend/call.h).
#include "frontend/call.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "build-config.h"  // OCIRUN_BUILD_ID
#include "engine/wire.h"
#include "spawn/records.h"
#include "spawn/spawn.h"

extern char** environ;

namespace ocirun::frontend {

namespace engine = ocirun::engine;

namespace {

// The daemon's JSON is its own JSON.stringify output: numbers are found by key.
long JsonInt(const std::string& json, const char* key, long fallback) {
  std::string k = std::string("\"") + key + "\":";
  size_t at = json.find(k);
  if (at == std::string::npos) return fallback;
  const char* p = json.c_str() + at + k.size();
  char* end;
  long v = strtol(p, &end, 10);
  return end == p ? fallback : v;
}

std::vector<int> JsonInts(const std::string& json, const char* key) {
  std::vector<int> out;
  std::string k = std::string("\"") + key + "\":[";
  size_t at = json.find(k);
  if (at == std::string::npos) return out;
  const char* p = json.c_str() + at + k.size();
  while (*p && *p != ']') {
    char* end;
    long v = strtol(p, &end, 10);
    if (end == p) break;
    out.push_back(int(v));
    p = *end == ',' ? end + 1 : end;
  }
  return out;
}

std::string JsonField(const std::string& json, const char* key) {
  std::string k = std::string("\"") + key + "\":\"";
  size_t at = json.find(k);
  if (at == std::string::npos) return {};
  size_t end = json.find('"', at + k.size());
  return json.substr(at + k.size(), end == std::string::npos ? std::string::npos : end - at - k.size());
}

// Every descriptor the caller has open, lowest first: the daemon takes what
// the arguments name (stdio, --preserve-fds, LISTEN_FDS) and closes the rest.
std::vector<int> OpenFds(int except) {
  std::vector<int> fds;
  DIR* d = opendir("/proc/self/fd");
  if (!d) return {0, 1, 2};
  int dfd = dirfd(d);
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    int fd = atoi(e->d_name);
    if (fd != dfd && fd != except) fds.push_back(fd);
  }
  closedir(d);
  std::sort(fds.begin(), fds.end());
  return fds;
}

std::string RequestJson(const std::vector<std::string>& args, const std::vector<int>& fds) {
  std::string j = "{\"build\":" + engine::JsonString(OCIRUN_BUILD_ID) + ",\"pid\":" + std::to_string(getpid());
  char cwd[4096];
  j += ",\"cwd\":" + engine::JsonString(getcwd(cwd, sizeof cwd) ? cwd : "/");
  mode_t mask = umask(0);
  umask(mask);
  j += ",\"umask\":" + std::to_string(mask) + ",\"argv\":[";
  for (size_t i = 0; i < args.size(); i++) j += (i ? "," : "") + engine::JsonString(args[i]);
  j += "],\"env\":[";
  for (char** e = environ; *e; e++) j += (e == environ ? "" : ",") + engine::JsonString(*e);
  j += "],\"fds\":[";
  for (size_t i = 0; i < fds.size(); i++) j += (i ? "," : "") + std::to_string(fds[i]);
  return j + "]}";
}

class RemoteHooks : public HookNotifier {
 public:
  explicit RemoteHooks(int sock) : sock_(sock) {}
  bool Notify(pid_t pid, int helper_sock, SysError* err) override {
    std::string j = "{\"pid\":" + std::to_string(pid) + "}";
    int e = SendRecord(sock_, engine::F_HOOKS, j.data(), j.size(), &helper_sock, 1);
    if (e != 0) *err = SysError::Errno(e, "sendmsg", {}, "handing the hook point to the daemon");
    return e == 0;
  }

 private:
  int sock_;
};

std::string ErrorJson(const SysError& e) {
  return "{\"ok\":false,\"error\":{\"errno\":" + std::to_string(e.err) + ",\"syscall\":" + engine::JsonString(e.syscall) +
         ",\"path\":" + engine::JsonString(e.path) + ",\"message\":" + engine::JsonString(e.message) + "}}";
}

// D_SPAWN: the helper becomes our child, so the init (CLONE_PARENT) is too.
int Spawn(int sock, const Install& install, Record& f) {
  SpawnRequest req;
  req.helper = install.helper();
  uint32_t jlen = 0;
  if (f.payload.size() >= 4) memcpy(&jlen, f.payload.data(), 4);
  if (f.payload.size() < 4 || jlen > f.payload.size() - 4 || f.fds.size() < 3) {
    std::string j = ErrorJson(SysError::Plain("engine protocol error: malformed spawn request"));
    return SendRecord(sock, engine::F_SPAWNED, j.data(), j.size(), nullptr, 0);
  }
  std::string json = f.payload.substr(4, jlen);
  req.timing = json.find("\"timing\":true") != std::string::npos;
  req.plan.assign(f.payload.begin() + 4 + jlen, f.payload.end());
  for (auto& fd : f.fds) req.fds.push_back(fd.get());
  RemoteHooks hooks(sock);
  req.hooks = &hooks;
  SpawnOutcome out;
  SysError err;
  if (!RunSpawn(req, &out, &err)) {
    std::string j = ErrorJson(err);
    return SendRecord(sock, engine::F_SPAWNED, j.data(), j.size(), nullptr, 0);
  }
  f.fds.clear();  // ours to close now: the container has its copies
  std::string j = "{\"ok\":true,\"pid\":" + std::to_string(out.pid) + ",\"pidfd\":" + (out.pidfd.valid() ? "true" : "false") +
                  ",\"warnings\":[";
  for (size_t i = 0; i < out.warnings.size(); i++) j += (i ? "," : "") + engine::JsonString(out.warnings[i]);
  j += "],\"timings\":[";
  for (size_t i = 0; i < out.marks.size(); i++) {
    j += (i ? ",[" : "[") + std::to_string(out.marks[i].first) + ",\"" + std::to_string(out.marks[i].second) + "\"]";
  }
  j += "]}";
  int fds[2];
  size_t n = 0;
  if (out.pidfd.valid()) fds[n++] = out.pidfd.get();
  fds[n++] = out.control.get();
  // Our copies close when `out` goes: the daemon alone holds the control
  // socket, so its death is the init's EOF.
  return SendRecord(sock, engine::F_SPAWNED, j.data(), j.size(), fds, n);
}

std::string StatusJson(pid_t pid, int status) {
  std::string code = WIFEXITED(status) ? std::to_string(WEXITSTATUS(status)) : "null";
  std::string sig = WIFSIGNALED(status) ? std::to_string(WTERMSIG(status)) : "null";
  return "{\"pid\":" + std::to_string(pid) + ",\"exitCode\":" + code + ",\"signal\":" + sig + "}";
}

}  // namespace

CallEnd RunCall(int sock, const Install& install, const std::vector<std::string>& args, int* code,
                std::string* why) {
  // SIGCHLD through a signalfd, so D_WAIT children are reaped in this loop;
  // forwarded signals join the mask when the daemon names them (D_SIGNALS).
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

  std::vector<int> fds = OpenFds(sock);
  fds.erase(std::remove(fds.begin(), fds.end(), sfd), fds.end());
  if (fds.size() > kMaxRecordFds) {
    *why = "too many open descriptors to hand to the daemon";
    return CallEnd::kFallback;
  }
  std::string req = RequestJson(args, fds);
  int e = SendRecord(sock, engine::F_REQUEST, req.data(), req.size(), fds.data(), fds.size());
  if (e != 0) {
    *why = std::string("sending the request: ") + strerror(e);
    return CallEnd::kRetry;
  }

  // Non-blocking: the reader drains what has come and returns to poll, which
  // also watches the signalfd.
  fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);
  RecordReader reader(sock, engine::kMaxFrameBytes);
  bool acked = false;
  std::set<pid_t> waited;
  for (;;) {
    pollfd p[2] = {{sock, POLLIN, 0}, {sfd, POLLIN, 0}};
    if (poll(p, sfd >= 0 ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      *why = std::string("poll: ") + strerror(errno);
      return acked ? CallEnd::kExit : CallEnd::kRetry;
    }
    if (sfd >= 0 && (p[1].revents & POLLIN)) {
      signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == ssize_t(sizeof si)) {
        if (si.ssi_signo == SIGCHLD) continue;
        std::string j = "{\"signo\":" + std::to_string(si.ssi_signo) + "}";
        SendRecord(sock, engine::F_SIGNAL, j.data(), j.size(), nullptr, 0);
      }
      for (auto it = waited.begin(); it != waited.end();) {
        int status;
        pid_t r = waitpid(*it, &status, WNOHANG | __WALL);
        if (r == *it) {
          std::string j = StatusJson(r, status);
          SendRecord(sock, engine::F_EXITED, j.data(), j.size(), nullptr, 0);
          it = waited.erase(it);
        } else {
          ++it;
        }
      }
    }
    if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    for (;;) {
      Record f;
      int err = 0;
      RecordReader::Result r = reader.Next(&f, &err);
      if (r == RecordReader::kAgain) break;
      if (r != RecordReader::kRecord) {
        *why = r == RecordReader::kEof ? "the ocirun daemon went away during the call"
                                              : std::string("reading from the ocirun daemon: ") + strerror(err);
        *code = 1;
        return acked ? CallEnd::kExit : CallEnd::kRetry;
      }
      switch (f.tag) {
        case engine::D_ACK:
          acked = true;
          break;
        case engine::D_SPAWN:
          Spawn(sock, install, f);
          break;
        case engine::D_WAIT: {
          pid_t pid = pid_t(JsonInt(f.payload, "pid", -1));
          int status;
          pid_t r2 = pid > 0 ? waitpid(pid, &status, WNOHANG | __WALL) : -1;
          if (r2 == pid) {
            std::string j = StatusJson(pid, status);
            SendRecord(sock, engine::F_EXITED, j.data(), j.size(), nullptr, 0);
          } else if (r2 == 0) {
            waited.insert(pid);
          } else {
            std::string j = "{\"pid\":" + std::to_string(pid) + ",\"exitCode\":null,\"signal\":null,\"unknown\":true}";
            SendRecord(sock, engine::F_EXITED, j.data(), j.size(), nullptr, 0);
          }
          break;
        }
        case engine::D_SIGNALS: {
          for (int sig : JsonInts(f.payload, "signals")) {
            if (sig > 0 && sig < NSIG && sig != SIGKILL && sig != SIGSTOP) sigaddset(&mask, sig);
          }
          sigprocmask(SIG_BLOCK, &mask, nullptr);
          signalfd(sfd, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
          break;
        }
        case engine::D_EXIT:
          *code = int(JsonInt(f.payload, "code", 1));
          *why = JsonField(f.payload, "error");
          return CallEnd::kExit;
        case engine::D_FALLBACK:
          // Sent only when the daemon did nothing for the call, even after D_ACK.
          *why = JsonField(f.payload, "reason");
          return CallEnd::kFallback;
        default:
          break;  // a newer daemon's frame we do not know: builds match, so this is not reached
      }
    }
  }
}

}  // namespace ocirun::frontend
