// The daemon's side of the engine socket (src/daemon): listening, accepting
// with the peer's credentials, readiness on the libuv loop, and frames with
// descriptors (engine/wire.h). The JS side decides everything else.
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <uv.h>

#include <memory>

#include "addon/addon.h"
#include "addon/errors.h"
#include "engine/peer.h"
#include "engine/wire.h"
#include "spawn/fd.h"
#include "spawn/records.h"
#include "spawn/unix_addr.h"

namespace ocirun {
namespace {

namespace engine = ocirun::engine;

Napi::Value ListenUnix(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  sockaddr_un addr;
  if (!UnixAddress(path, &addr)) ThrowErrno(info.Env(), ENAMETOOLONG, "bind", path);
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) ThrowErrno(info.Env(), errno, "socket", path);
  // Made 0600 before anyone can connect: the umask decides the mode bind() gives.
  mode_t old = umask(077);
  int r = bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int e = errno;
  umask(old);
  if (r < 0) ThrowErrno(info.Env(), e, "bind", path);
  if (listen(fd.get(), 512) < 0) ThrowErrno(info.Env(), errno, "listen", path);
  return Napi::Number::New(info.Env(), fd.release());
}

// One pending connection with its peer's credentials and the namespaces
// named in the second argument (engine/peer.h), or null when none waits.
Napi::Value AcceptUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int lfd = ArgFd(info, 0, "fd");
  std::vector<std::string> names;
  if (info.Length() > 1 && info[1].IsArray()) {
    Napi::Array arr = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) names.push_back(arr.Get(i).ToString().Utf8Value());
  }
  int fd;
  do fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  while (fd < 0 && errno == EINTR);
  if (fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED)) return env.Null();
  if (fd < 0) ThrowErrno(env, errno, "accept4");
  UniqueFd conn(fd);
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) ThrowErrno(env, errno, "getsockopt");
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, cred.pid));
  out.Set("uid", Napi::Number::New(env, cred.uid));
  out.Set("gid", Napi::Number::New(env, cred.gid));
  if (!names.empty()) {
    engine::PeerNamespaces ns = engine::ReadPeerNamespaces(fd, cred.pid, names);
    Napi::Array ids = Napi::Array::New(env, ns.ids.size());
    for (uint32_t i = 0; i < ns.ids.size(); i++) ids.Set(i, ns.ids[i]);
    out.Set("ns", ids);
    out.Set("nsVia", ns.how);
    if (!ns.why.empty()) out.Set("nsError", ns.why);
  }
  out.Set("fd", Napi::Number::New(env, conn.release()));
  return out;
}

// watchReadable(fd, cb): cb() on the loop each time fd is readable (or hung
// up) until close(). The poll keeps the loop alive while it is open.
struct Watch {
  uv_poll_t poll{};
  Napi::FunctionReference callback;
  Napi::Env env;
  bool closed = false;
  explicit Watch(Napi::Env e) : env(e) {}
};

void OnPoll(uv_poll_t* handle, int status, int events) {
  auto* w = static_cast<Watch*>(handle->data);
  if (w->closed) return;
  Napi::HandleScope scope(w->env);
  // MakeCallback: uncaught errors reach process 'uncaughtException' and the
  // microtask queue runs after, as for any libuv-driven callback in Node.
  w->callback.MakeCallback(w->env.Global(), {});
}

Napi::Value WatchReadable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "fd");
  Napi::Function callback = ArgFunction(info, 1, "callback");
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) ThrowErrno(env, EINVAL, "uv_poll_init");
  auto* w = new Watch(env);
  w->callback = Napi::Persistent(callback);
  w->poll.data = w;
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r == 0) r = uv_poll_start(&w->poll, UV_READABLE | UV_DISCONNECT, OnPoll);
  if (r != 0) {
    delete w;  // the handle was never started, or init failed: nothing for libuv to close
    ThrowErrno(env, -r, "uv_poll_start");
  }
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("close", Napi::Function::New(env, [w](const Napi::CallbackInfo&) {
    if (w->closed) return;
    w->closed = true;
    w->callback.Reset();
    uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), [](uv_handle_t* h) { delete static_cast<Watch*>(h->data); });
  }, "close"));
  return handle;
}

Napi::Value NewFrameReader(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  return Napi::External<RecordReader>::New(info.Env(), new RecordReader(fd, engine::kMaxFrameBytes),
                                                  [](Napi::Env, RecordReader* r) { delete r; });
}

// { frames: [{ type, payload, fds }], end: 'eof' | 'again', error? }
Napi::Value ReadFrames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal()) ThrowTypeError(env, "The \"reader\" argument must come from frameReader()");
  auto* reader = info[0].As<Napi::External<RecordReader>>().Data();
  Napi::Array frames = Napi::Array::New(env);
  Napi::Object out = Napi::Object::New(env);
  for (uint32_t i = 0;; i++) {
    Record f;
    int err = 0;
    auto r = reader->Next(&f, &err);
    if (r == RecordReader::kRecord) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("type", Napi::Number::New(env, f.tag));
      o.Set("payload", Napi::Buffer<char>::Copy(env, f.payload.data(), f.payload.size()));
      Napi::Array fds = Napi::Array::New(env, f.fds.size());
      for (uint32_t k = 0; k < f.fds.size(); k++) fds.Set(k, Napi::Number::New(env, f.fds[k].release()));
      o.Set("fds", fds);
      frames.Set(i, o);
      continue;
    }
    out.Set("end", r == RecordReader::kAgain ? "again" : r == RecordReader::kEof ? "eof" : "error");
    if (r == RecordReader::kFailed) out.Set("error", std::string(strerror(err)));
    break;
  }
  out.Set("frames", frames);
  return out;
}

Napi::Value SendFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "fd");
  int type = ArgInt32(info, 1, "type", 0, 65535);
  Napi::Buffer<char> payload = ArgBuffer(info, 2, "payload");
  std::vector<int> fds;
  if (info.Length() > 3 && info[3].IsArray()) {
    Napi::Array arr = info[3].As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) fds.push_back(arr.Get(i).As<Napi::Number>().Int32Value());
  }
  int e = SendRecord(fd, uint16_t(type), payload.Data(), payload.Length(), fds.data(), fds.size());
  if (e != 0) ThrowErrno(env, e, "sendmsg");
  return env.Undefined();
}

// The Error spawnContainer would have rejected with, for a failure the front
// end reported ({errno, syscall, path, message}): one formatter for both paths.
Napi::Value SystemErrorFrom(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) ThrowTypeError(env, "The \"error\" argument must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto str = [&](const char* k) { Napi::Value v = o.Get(k); return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string(); };
  Napi::Value e = o.Get("errno");
  SysError err{e.IsNumber() ? e.As<Napi::Number>().Int32Value() : 0, str("syscall"), str("path"), str("message")};
  return MakeSystemError(env, err).Value();
}

}  // namespace

void RegisterEngine(Napi::Env env, Napi::Object exports) {
  SetExports(env, exports, {{"listenUnix", ListenUnix}, {"acceptUnix", AcceptUnix}, {"watchReadable", WatchReadable},
                            {"frameReader", NewFrameReader}, {"readFrames", ReadFrames}, {"sendFrame", SendFrame},
                            {"systemError", SystemErrorFrom}});
}

}  // namespace ocirun
