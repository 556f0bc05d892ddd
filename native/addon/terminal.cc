// Terminals and console sockets: what src/io needs and Node lacks. Passing
// descriptors over unix sockets (runc's console-socket protocol), window
// sizes, raw mode, and a copy thread between the caller's terminal and a pty
// master that never blocks the event loop or a libuv pool thread.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>

#include "addon/addon.h"
#include "addon/errors.h"
#include "spawn/fd.h"
#include "spawn/records.h"
#include "spawn/unix_addr.h"

namespace ocirun {
namespace {

Napi::Value ConnectUnix(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  sockaddr_un addr;
  if (!UnixAddress(path, &addr)) ThrowErrno(info.Env(), ENAMETOOLONG, "connect", path);
  // Non-blocking, as Go's net.Dial (runc) connects: a listener whose backlog
  // is full because it never accepts makes connect() fail with EAGAIN at once
  // instead of blocking the runtime forever. A fifo or file there is refused
  // by the kernel (ECONNREFUSED) without being opened.
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) ThrowErrno(info.Env(), errno, "socket", path);
  int r;
  do r = connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  while (r < 0 && errno == EINTR);
  if (r < 0) ThrowErrno(info.Env(), errno, "connect", path);
  // Connected: the one message we send fits the socket buffer, so blocking
  // sends (ours and the helper's) cannot stall on a peer that never reads.
  int flags = fcntl(fd.get(), F_GETFL);
  if (flags < 0 || fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) < 0) ThrowErrno(info.Env(), errno, "fcntl", path);
  return Napi::Number::New(info.Env(), fd.release());
}

Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) ThrowErrno(info.Env(), errno, "socketpair");
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), sv[0]));
  out.Set(1u, Napi::Number::New(info.Env(), sv[1]));
  return out;
}

// runc's SendFile/RecvFile: the payload is the file's name, the fd rides along.
Napi::Value SendFd(const Napi::CallbackInfo& info) {
  int sock = ArgFd(info, 0, "sock");
  int fd = ArgFd(info, 1, "fd");
  std::string name = ArgString(info, 2, "name");
  if (name.empty()) name = "fd";
  iovec iov{name.data(), name.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t n;
  do n = sendmsg(sock, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(info.Env(), errno, "sendmsg");
  return info.Env().Undefined();
}

Napi::Value RecvFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = ArgFd(info, 0, "sock");
  char name[4096];
  iovec iov{name, sizeof name};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  ssize_t n;
  do n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return env.Null();
  if (n < 0) ThrowErrno(env, errno, "recvmsg");
  // One file per message; extras close with the vector, they would only leak.
  std::vector<UniqueFd> fds = TakeRights(&mh);
  if (fds.empty()) return env.Null();
  int fd = fds[0].release();
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("name", Napi::String::New(env, name, size_t(n)));
  return out;
}

Napi::Value GetWinsize(const Napi::CallbackInfo& info) {
  winsize ws{};
  if (ioctl(ArgFd(info, 0, "fd"), TIOCGWINSZ, &ws) < 0) {
    if (errno == ENOTTY || errno == EINVAL) return info.Env().Null();
    ThrowErrno(info.Env(), errno, "ioctl");
  }
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("rows", Napi::Number::New(info.Env(), ws.ws_row));
  out.Set("cols", Napi::Number::New(info.Env(), ws.ws_col));
  return out;
}

Napi::Value SetWinsize(const Napi::CallbackInfo& info) {
  winsize ws{};
  int fd = ArgFd(info, 0, "fd");
  ws.ws_row = static_cast<unsigned short>(ArgInt32(info, 1, "rows", 0, 0xffff));
  ws.ws_col = static_cast<unsigned short>(ArgInt32(info, 2, "cols", 0, 0xffff));
  if (ioctl(fd, TIOCSWINSZ, &ws) < 0) ThrowErrno(info.Env(), errno, "ioctl");
  return info.Env().Undefined();
}

Napi::Value MakeRaw(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  termios saved{};
  if (tcgetattr(fd, &saved) < 0) {
    if (errno == ENOTTY || errno == EINVAL) return info.Env().Null();
    ThrowErrno(info.Env(), errno, "tcgetattr");
  }
  termios raw = saved;
  cfmakeraw(&raw);
  if (tcsetattr(fd, TCSANOW, &raw) < 0) ThrowErrno(info.Env(), errno, "tcsetattr");
  return Napi::Buffer<uint8_t>::Copy(info.Env(), reinterpret_cast<uint8_t*>(&saved), sizeof saved);
}

Napi::Value RestoreTermios(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  if (!info[1].IsBuffer() || info[1].As<Napi::Buffer<uint8_t>>().Length() != sizeof(termios))
    ThrowTypeError(info.Env(), "The \"saved\" argument must be a Buffer from makeRaw()");
  termios saved;
  memcpy(&saved, info[1].As<Napi::Buffer<uint8_t>>().Data(), sizeof saved);
  // TCSADRAIN: what the container printed last reaches the screen in raw mode.
  if (tcsetattr(fd, TCSADRAIN, &saved) < 0) ThrowErrno(info.Env(), errno, "tcsetattr");
  return info.Env().Undefined();
}

// ---- the copy thread --------------------------------------------------------

struct Proxy {
  int master, input, output;
  UniqueFd wake;  // eventfd: stop() asks for a final drain
  Napi::ThreadSafeFunction done;

  bool WriteAll(int fd, const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = write(fd, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EAGAIN) {
        pollfd pf{fd, POLLOUT, 0};
        poll(&pf, 1, -1);
        continue;
      }
      if (w <= 0) return false;
      p += w;
      n -= size_t(w);
    }
    return true;
  }

  // Copies what the master has (at most `limit` bytes). Returns false once it
  // has nothing more to give: EIO means every slave descriptor is closed.
  bool Pump(char* buf, size_t size, size_t limit = SIZE_MAX) {
    for (size_t copied = 0; copied < limit;) {
      ssize_t r = read(master, buf, size);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && errno == EAGAIN) return true;
      if (r <= 0) return false;
      copied += size_t(r);
      // A reader that went away must not keep the container's writes blocked.
      if (output >= 0 && !WriteAll(output, buf, size_t(r))) output = -1;
    }
    return true;
  }

  void Run() {
    char out[16384], in[4096];
    size_t pending = 0, sent = 0;
    bool input_open = input >= 0;
    for (;;) {
      pollfd p[3] = {{master, short(POLLIN | (pending ? POLLOUT : 0)), 0},
                     {wake.get(), POLLIN, 0},
                     {input_open && !pending ? input : -1, POLLIN, 0}};
      int r = poll(p, 3, -1);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) break;
      if (p[1].revents) {  // stop(): what is already there, bounded against a writer that never stops
        Pump(out, sizeof out, 4u << 20);
        break;
      }
      if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && !Pump(out, sizeof out)) break;
      if (p[2].revents) {
        ssize_t n = read(input, in, sizeof in);
        if (n > 0) {
          pending = size_t(n);
          sent = 0;
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          input_open = false;
        }
      }
      if (pending) {
        ssize_t w = write(master, in + sent, pending - sent);
        if (w > 0) sent += size_t(w);
        else if (w < 0 && errno != EINTR && errno != EAGAIN) pending = sent = 0;
        if (sent == pending) pending = sent = 0;
      }
    }
  }
};

Napi::Value ProxyTerminal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int master = ArgFd(info, 0, "master");
  int input = info[1].IsNumber() && info[1].As<Napi::Number>().Int32Value() >= 0 ? ArgFd(info, 1, "input") : -1;
  int output = ArgFd(info, 2, "output");
  Napi::Function done = ArgFunction(info, 3, "done");
  auto proxy = std::make_shared<Proxy>();
  proxy->master = master;
  proxy->input = input;
  proxy->output = output;
  proxy->wake.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!proxy->wake.valid()) ThrowErrno(env, errno, "eventfd");
  // Ours alone, so non-blocking is safe: a full pty must not stall the thread.
  int flags = fcntl(master, F_GETFL);
  if (flags < 0 || fcntl(master, F_SETFL, flags | O_NONBLOCK) < 0) ThrowErrno(env, errno, "fcntl");
  proxy->done = Napi::ThreadSafeFunction::New(env, done, "ocirun.proxyTerminal", 0, 1);
  std::thread([proxy] {
    proxy->Run();
    proxy->done.BlockingCall();
    proxy->done.Release();
  }).detach();
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("stop", Napi::Function::New(env, [proxy](const Napi::CallbackInfo& i) {
    uint64_t one = 1;
    if (write(proxy->wake.get(), &one, sizeof one) < 0 && errno != EAGAIN) ThrowErrno(i.Env(), errno, "write");
    return i.Env().Undefined();
  }, "stop"));
  return handle;
}

}  // namespace

void RegisterTerminal(Napi::Env env, Napi::Object exports) {
  SetExports(env, exports, {{"connectUnix", ConnectUnix}, {"socketPair", SocketPair}, {"sendFd", SendFd}, {"recvFd", RecvFd},
                            {"getWinsize", GetWinsize}, {"setWinsize", SetWinsize}, {"makeRaw", MakeRaw},
                            {"restoreTermios", RestoreTermios}, {"proxyTerminal", ProxyTerminal}});
}

}  // namespace ocirun
