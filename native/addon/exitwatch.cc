// watchExit: one epoll thread per JS environment waits on every watched pidfd.
// It is not a libuv pool thread because the waits are unbounded and the pool
// (4 threads by default) also runs fs and spawnContainer work.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <atomic>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "addon/addon.h"
#include "addon/errors.h"
#include "spawn/fd.h"
#include "spawn/pidfd_of.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace ocirun {

namespace {
struct ExitEvent {
  uint64_t id;
  bool known;
  int code;    // CLD_EXITED
  int signal;  // CLD_KILLED / CLD_DUMPED
};
constexpr uint64_t kWakeId = 0;
}  // namespace

class ExitWatcher {
 public:
  explicit ExitWatcher(Napi::Env env);
  ~ExitWatcher() { Stop(); }
  uint64_t Watch(Napi::Env env, int pidfd, Napi::Function callback);
  // Drops a watch whose exit nobody wants any more (an aborted wait), so it
  // stops keeping the event loop alive. False if it already fired.
  bool Unwatch(Napi::Env env, uint64_t id);

 private:
  static void CallJs(Napi::Env env, Napi::Function, ExitWatcher* self, ExitEvent* ev);
  using Tsfn = Napi::TypedThreadSafeFunction<ExitWatcher, ExitEvent, &ExitWatcher::CallJs>;

  void Run();
  ExitEvent Collect(uint64_t id, int fd);
  void Stop();  // JS thread: environment cleanup hook

  UniqueFd epoll_;
  UniqueFd wake_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  bool stopped_ = false;
  // One TSFN for all watches, ref'd while any watch is pending (Ref/Unref on
  // the JS thread). Because it is created before our cleanup hook is added and
  // hooks run last-in first-out, our hook always joins the thread before Node
  // tears the TSFN down; per-watch TSFNs would be torn down before it.
  Tsfn tsfn_;

  std::mutex mu_;
  std::unordered_map<uint64_t, int> fds_;  // our dups of the watched pidfds (both threads)
  std::unordered_map<uint64_t, Napi::FunctionReference> callbacks_;  // JS thread only
  uint64_t next_id_ = kWakeId;
};

ExitWatcher::ExitWatcher(Napi::Env env) {
  epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_.valid()) ThrowErrno(env, errno, "epoll_create1");
  wake_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_.valid()) ThrowErrno(env, errno, "eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeId;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev) < 0) ThrowErrno(env, errno, "epoll_ctl");

  tsfn_ = Tsfn::New(env, "ocirun.watchExit", 0, 1, this);
  tsfn_.Unref(env);  // an idle watcher must not keep the process alive
  try {
    thread_ = std::thread([this] { Run(); });
  } catch (const std::system_error& e) {
    tsfn_.Release();
    ThrowErrno(env, e.code().value(), "pthread_create");
  }
  // Added last, so that a failed constructor leaves no hook pointing at it.
  env.AddCleanupHook([this]() { Stop(); });
}

uint64_t ExitWatcher::Watch(Napi::Env env, int pidfd, Napi::Function callback) {
  if (stopped_) ThrowErrno(env, ESHUTDOWN, "watchExit");  // environment is being torn down
  // Watch our own duplicate: the caller may close its pidfd whenever it likes,
  // and two watches of one process do not collide in the epoll set.
  UniqueFd fd(fcntl(pidfd, F_DUPFD_CLOEXEC, 0));
  if (!fd.valid()) ThrowErrno(env, errno, "fcntl");
  // Anything else would be pollable yet never yield a status.
  if (PidOfPidfd(fd.get()) == 0) ThrowErrno(env, EINVAL, "watchExit");
  uint64_t id = ++next_id_;
  callbacks_.emplace(id, Napi::Persistent(callback));
  if (callbacks_.size() == 1) tsfn_.Ref(env);
  {
    std::lock_guard<std::mutex> lock(mu_);
    fds_.emplace(id, fd.get());
  }
  // epoll_ctl from this thread is safe while the watcher sits in epoll_wait
  // and takes effect at once, so no wake-up is needed to add a watch.
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.u64 = id;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd.get(), &ev) < 0) {
    int err = errno;
    {
      std::lock_guard<std::mutex> lock(mu_);
      fds_.erase(id);
    }
    callbacks_.erase(id);
    if (callbacks_.empty()) tsfn_.Unref(env);
    ThrowErrno(env, err, "epoll_ctl");
  }
  fd.release();
  return id;
}

bool ExitWatcher::Unwatch(Napi::Env env, uint64_t id) {
  if (callbacks_.erase(id) == 0) return false;
  if (callbacks_.empty()) tsfn_.Unref(env);
  int fd = -1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = fds_.find(id);
    if (it != fds_.end()) {
      fd = it->second;
      fds_.erase(it);
    }
  }
  // Absent: the thread already took it and closes it; its event finds no callback.
  if (fd >= 0) {
    epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
  }
  return true;
}

ExitEvent ExitWatcher::Collect(uint64_t id, int fd) {
  ExitEvent ev{id, false, 0, 0};
  for (;;) {
    siginfo_t si{};
    // __WALL: the container init may have been cloned with a non-SIGCHLD exit signal.
    long r = syscall(SYS_waitid, P_PIDFD, fd, &si, WEXITED | WNOHANG | __WALL, nullptr);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ev;  // ECHILD: not our child (or already reaped): status unknown
    if (si.si_pid == 0) {
      // Readable but not yet waitable; never seen in practice. Retry shortly
      // rather than report a status we do not have.
      timespec ts{0, 1000 * 1000};
      nanosleep(&ts, nullptr);
      continue;
    }
    ev.known = true;
    if (si.si_code == CLD_EXITED) ev.code = si.si_status;
    else ev.signal = si.si_status;
    return ev;
  }
}

void ExitWatcher::Run() {
  epoll_event events[64];
  while (!stopping_.load()) {
    int n = epoll_wait(epoll_.get(), events, 64, -1);
    if (n < 0) continue;  // EINTR; nothing else can happen to a valid epoll fd
    for (int i = 0; i < n && !stopping_.load(); i++) {
      uint64_t id = events[i].data.u64;
      if (id == kWakeId) continue;
      int fd;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = fds_.find(id);
        if (it == fds_.end()) continue;
        fd = it->second;
        fds_.erase(it);
      }
      epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
      auto* ev = new ExitEvent(Collect(id, fd));
      close(fd);
      if (tsfn_.NonBlockingCall(ev) != napi_ok) delete ev;  // environment is going away
    }
  }
}

void ExitWatcher::CallJs(Napi::Env env, Napi::Function, ExitWatcher* self, ExitEvent* ev) {
  std::unique_ptr<ExitEvent> owned(ev);
  if (env == nullptr || self->stopped_) return;  // torn down: just free the event
  auto it = self->callbacks_.find(ev->id);
  if (it == self->callbacks_.end()) return;
  Napi::FunctionReference callback = std::move(it->second);
  self->callbacks_.erase(it);
  if (self->callbacks_.empty()) self->tsfn_.Unref(env);

  Napi::Object status = Napi::Object::New(env);
  status.Set("exitCode", ev->known && ev->signal == 0 ? Napi::Value(Napi::Number::New(env, ev->code)) : env.Null());
  status.Set("signal", ev->known && ev->signal != 0 ? Napi::Value(Napi::Number::New(env, ev->signal)) : env.Null());
  status.Set("known", Napi::Boolean::New(env, ev->known));
  // A throwing callback becomes an uncaught exception, as with any Node callback.
  try {
    callback.Call({status});
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
  }
}

void ExitWatcher::Stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_.store(true);
  uint64_t one = 1;
  if (write(wake_.get(), &one, sizeof one) < 0) {
    // Only EAGAIN (counter full) is possible, and then a wake-up is pending anyway.
  }
  if (thread_.joinable()) thread_.join();
  for (auto& [id, fd] : fds_) close(fd);
  fds_.clear();
  callbacks_.clear();
  tsfn_.Release();
}

void DestroyExitWatcher(ExitWatcher* watcher) { delete watcher; }

namespace {

Napi::Value WatchExit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pidfd = ArgFd(info, 0, "pidfd");
  Napi::Function callback = ArgFunction(info, 1, "callback");
  AddonState* state = env.GetInstanceData<AddonState>();
  if (state->watcher == nullptr) state->watcher = new ExitWatcher(env);
  uint64_t id = state->watcher->Watch(env, pidfd, callback);
  return Napi::Number::New(env, double(id));
}

Napi::Value UnwatchExit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) ThrowTypeError(env, "The \"id\" argument must be of type number");
  double id = info[0].As<Napi::Number>().DoubleValue();
  AddonState* state = env.GetInstanceData<AddonState>();
  if (state->watcher == nullptr || !(id >= 1 && id == double(uint64_t(id)))) return Napi::Boolean::New(env, false);
  return Napi::Boolean::New(env, state->watcher->Unwatch(env, uint64_t(id)));
}

}  // namespace

void RegisterExitWatch(Napi::Env env, Napi::Object exports) {
  SetExports(env, exports, {{"watchExit", WatchExit}, {"unwatchExit", UnwatchExit}});
}

}  // namespace ocirun
