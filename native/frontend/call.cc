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
#include <optional>
#include <set>

#include "build-config.h"  // OCIRUN_BUILD_ID
#include "engine/wire.h"
#include "spawn/records.h"
#include "spawn/hook.h"
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

std::string ErrorJson(const SysError& e) {
  return "{\"ok\":false,\"error\":{\"errno\":" + std::to_string(e.err) + ",\"syscall\":" + engine::JsonString(e.syscall) +
         ",\"path\":" + engine::JsonString(e.path) + ",\"message\":" + engine::JsonString(e.message) + "}}";
}

std::string StatusJson(pid_t pid, int status) {
  std::string code = WIFEXITED(status) ? std::to_string(WEXITSTATUS(status)) : "null";
  std::string sig = WIFSIGNALED(status) ? std::to_string(WTERMSIG(status)) : "null";
  return "{\"pid\":" + std::to_string(pid) + ",\"exitCode\":" + code + ",\"signal\":" + sig + "}";
}

// D_HOOK's payload (engine/wire.h) as a command; false when it is malformed.
bool ParseHook(const std::string& p, HookCommand* cmd) {
  uint32_t counts[2];
  if (p.size() < sizeof counts) return false;
  memcpy(counts, p.data(), sizeof counts);
  size_t at = sizeof counts;
  auto next = [&](std::string* out) {
    size_t nul = p.find('\0', at);
    if (nul == std::string::npos) return false;
    out->assign(p, at, nul - at);
    at = nul + 1;
    return true;
  };
  if (counts[0] == 0 || counts[0] > p.size() || counts[1] > p.size() || !next(&cmd->path) || cmd->path[0] != '/') return false;
  cmd->argv.resize(counts[0]);
  cmd->env.resize(counts[1]);
  for (auto& a : cmd->argv) if (!next(&a)) return false;
  for (auto& e : cmd->env) if (!next(&e)) return false;
  cmd->state.assign(p, at, std::string::npos);
  return true;
}

// One call's conversation with the daemon. Frames are served wherever the
// front end is waiting: in the main loop, and at the createRuntime point of
// a spawn (the helper paused, the daemon running prestart and createRuntime
// hooks, which it asks us to start and wait for).
class Call : public HookNotifier {
 public:
  Call(int sock, const Install& install) : sock_(sock), install_(install), reader_(sock, engine::kMaxFrameBytes) {
    sigemptyset(&mask_);
    sigaddset(&mask_, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask_, nullptr);
    sfd_ = signalfd(-1, &mask_, SFD_CLOEXEC | SFD_NONBLOCK);
  }

  int sfd() const { return sfd_; }

  // Until the daemon says how to exit (or goes away).
  CallEnd Run(int* code, std::string* why) {
    while (!end_) Pump(-1);
    *code = code_;
    *why = why_;
    return *end_;
  }

  // The createRuntime point: hand the daemon the helper socket, then serve it
  // until the helper speaks again (it has had its answer) or hangs up.
  bool Notify(pid_t pid, int helper_sock, SysError* err) override {
    std::string j = "{\"pid\":" + std::to_string(pid) + "}";
    int e = SendRecord(sock_, engine::F_HOOKS, j.data(), j.size(), &helper_sock, 1);
    if (e != 0) {
      *err = SysError::Errno(e, "sendmsg", {}, "handing the hook point to the daemon");
      return false;
    }
    while (!end_) {
      if (Pump(helper_sock)) return true;
    }
    *err = SysError::Plain(why_.empty() ? "the ocirun daemon went away at the hook point" : why_);
    return false;
  }

 private:
  // One poll round; true when `extra` became readable.
  bool Pump(int extra) {
    pollfd p[3] = {{sock_, POLLIN, 0}, {sfd_, POLLIN, 0}, {extra, POLLIN, 0}};
    if (poll(p, 3, -1) < 0) {
      if (errno != EINTR) End(acked_ ? CallEnd::kExit : CallEnd::kRetry, std::string("poll: ") + strerror(errno));
      return false;
    }
    if (p[1].revents & POLLIN) Signals();
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) Frames();
    return !end_ && extra >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR));
  }

  void End(CallEnd how, std::string why, int code = 1) {
    if (end_) return;
    end_ = how;
    why_ = std::move(why);
    code_ = code;
    // Hooks are the daemon's to wait for; one it left behind (it died) goes now.
    KillHooks();
  }

  void KillHooks() {
    for (pid_t pid : hooks_) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      int status;
      while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {
      }
    }
    hooks_.clear();
  }

  void Signals() {
    signalfd_siginfo si;
    while (read(sfd_, &si, sizeof si) == ssize_t(sizeof si)) {
      if (si.ssi_signo == SIGCHLD) continue;
      std::string j = "{\"signo\":" + std::to_string(si.ssi_signo) + "}";
      SendRecord(sock_, engine::F_SIGNAL, j.data(), j.size(), nullptr, 0);
    }
    for (auto it = waited_.begin(); it != waited_.end();) {
      int status;
      pid_t r = waitpid(*it, &status, WNOHANG | __WALL);
      if (r == *it) {
        Exited(r, status);
        it = waited_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void Exited(pid_t pid, int status) {
    hooks_.erase(pid);
    std::string j = StatusJson(pid, status);
    SendRecord(sock_, engine::F_EXITED, j.data(), j.size(), nullptr, 0);
  }

  void Frames() {
    while (!end_) {
      Record f;
      int err = 0;
      RecordReader::Result r = reader_.Next(&f, &err);
      if (r == RecordReader::kAgain) return;
      if (r != RecordReader::kRecord) {
        End(acked_ ? CallEnd::kExit : CallEnd::kRetry,
            r == RecordReader::kEof ? "the ocirun daemon went away during the call"
                                           : std::string("reading from the ocirun daemon: ") + strerror(err));
        return;
      }
      Dispatch(f);
    }
  }

  void Dispatch(Record& f) {
    switch (f.tag) {
      case engine::D_ACK:
        acked_ = true;
        break;
      case engine::D_SPAWN:
        Spawn(f);
        break;
      case engine::D_HOOK:
        Hook(f);
        break;
      case engine::D_WAIT: {
        pid_t pid = pid_t(JsonInt(f.payload, "pid", -1));
        int status;
        pid_t r = pid > 0 ? waitpid(pid, &status, WNOHANG | __WALL) : -1;
        if (r == pid) {
          Exited(pid, status);
        } else if (r == 0) {
          waited_.insert(pid);
        } else {
          std::string j = "{\"pid\":" + std::to_string(pid) + ",\"exitCode\":null,\"signal\":null,\"unknown\":true}";
          SendRecord(sock_, engine::F_EXITED, j.data(), j.size(), nullptr, 0);
        }
        break;
      }
      case engine::D_SIGNALS: {
        for (int sig : JsonInts(f.payload, "signals")) {
          if (sig > 0 && sig < NSIG && sig != SIGKILL && sig != SIGSTOP) sigaddset(&mask_, sig);
        }
        sigprocmask(SIG_BLOCK, &mask_, nullptr);
        signalfd(sfd_, &mask_, SFD_CLOEXEC | SFD_NONBLOCK);
        break;
      }
      case engine::D_EXIT:
        End(CallEnd::kExit, JsonField(f.payload, "error"), int(JsonInt(f.payload, "code", 1)));
        break;
      case engine::D_FALLBACK:
        // Sent only when the daemon did nothing for the call, even after D_ACK.
        End(CallEnd::kFallback, JsonField(f.payload, "reason"));
        break;
      default:
        break;  // a newer daemon's frame we do not know: builds match, so this is not reached
    }
  }

  // D_SPAWN: the helper becomes our child, so the init (CLONE_PARENT) is too.
  void Spawn(Record& f) {
    uint32_t jlen = 0;
    if (f.payload.size() >= 4) memcpy(&jlen, f.payload.data(), 4);
    if (spawning_ || f.payload.size() < 4 || jlen > f.payload.size() - 4 || f.fds.size() < 3) {
      std::string j = ErrorJson(SysError::Plain("engine protocol error: malformed spawn request"));
      SendRecord(sock_, engine::F_SPAWNED, j.data(), j.size(), nullptr, 0);
      return;
    }
    SpawnRequest req;
    req.helper = install_.helper();
    std::string json = f.payload.substr(4, jlen);
    req.timing = json.find("\"timing\":true") != std::string::npos;
    req.plan.assign(f.payload.begin() + 4 + jlen, f.payload.end());
    for (auto& fd : f.fds) req.fds.push_back(fd.get());
    req.hooks = this;
    SpawnOutcome out;
    SysError err;
    spawning_ = true;
    bool ok = RunSpawn(req, &out, &err);
    spawning_ = false;
    if (!ok) {
      std::string j = ErrorJson(err);
      SendRecord(sock_, engine::F_SPAWNED, j.data(), j.size(), nullptr, 0);
      return;
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
    SendRecord(sock_, engine::F_SPAWNED, j.data(), j.size(), fds, n);
  }

  // D_HOOK: a runtime hook as our child, so it has the caller's world (hook.h).
  void Hook(Record& f) {
    HookCommand cmd;
    HookProcess proc;
    SysError err;
    std::string j;
    if (!ParseHook(f.payload, &cmd)) {
      j = ErrorJson(SysError::Plain("engine protocol error: malformed hook request"));
    } else if (!StartHook(cmd, &proc, &err)) {
      j = ErrorJson(err);
    } else {
      hooks_.insert(proc.pid);
      j = "{\"ok\":true,\"pid\":" + std::to_string(proc.pid) + "}";
      int fd = proc.output.get();
      SendRecord(sock_, engine::F_HOOK, j.data(), j.size(), &fd, 1);
      return;
    }
    SendRecord(sock_, engine::F_HOOK, j.data(), j.size(), nullptr, 0);
  }

  int sock_;
  const Install& install_;
  RecordReader reader_;
  sigset_t mask_;
  int sfd_ = -1;
  bool acked_ = false;
  bool spawning_ = false;
  std::set<pid_t> waited_;
  std::set<pid_t> hooks_;  // started and not yet reaped
  std::optional<CallEnd> end_;
  int code_ = 1;
  std::string why_;
};

}  // namespace

CallEnd RunCall(int sock, const Install& install, const std::vector<std::string>& args, int* code,
                std::string* why) {
  // SIGCHLD through a signalfd, so D_WAIT children are reaped in the loop;
  // forwarded signals join the mask when the daemon names them (D_SIGNALS).
  Call call(sock, install);
  std::vector<int> fds = OpenFds(sock);
  fds.erase(std::remove(fds.begin(), fds.end(), call.sfd()), fds.end());
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
  return call.Run(code, why);
}

}  // namespace ocirun::frontend
