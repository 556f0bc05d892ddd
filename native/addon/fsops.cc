// mkfifo, flock, umount2 and mount-table polling: file operations Node's fs
// module does not offer.
#include <poll.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "addon/addon.h"
#include "addon/errors.h"

namespace ocirun {
namespace {

Napi::Value Mkfifo(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  int mode = ArgInt32(info, 1, "mode", 0, 07777);
  if (mkfifo(path.c_str(), mode_t(mode)) < 0) ThrowErrno(info.Env(), errno, "mkfifo", path);
  return info.Env().Undefined();
}

// True when the mount table of an open /proc/<pid>/mountinfo has changed
// since the file was opened or last asked: the kernel flags it with POLLPRI
// and resets the flag as it answers (fs/proc_namespace.c, mounts_poll).
Napi::Value MountsChanged(const Napi::CallbackInfo& info) {
  pollfd p{ArgFd(info, 0, "fd"), POLLPRI, 0};
  int r;
  do r = poll(&p, 1, 0);
  while (r < 0 && errno == EINTR);
  if (r < 0) ThrowErrno(info.Env(), errno, "poll");
  return Napi::Boolean::New(info.Env(), (p.revents & (POLLPRI | POLLERR)) != 0);
}

int Flock(int fd, int op) {
  int r;
  do r = flock(fd, op);
  while (r < 0 && errno == EINTR);
  return r;
}

Napi::Value TryLock(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  bool exclusive = ArgBool(info, 1, "exclusive");
  if (Flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0) return Napi::Boolean::New(info.Env(), true);
  if (errno == EWOULDBLOCK) return Napi::Boolean::New(info.Env(), false);
  ThrowErrno(info.Env(), errno, "flock");
}

Napi::Value Unlock(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  if (Flock(fd, LOCK_UN) < 0) ThrowErrno(info.Env(), errno, "flock");
  return info.Env().Undefined();
}

// A container without a mount namespace leaves its mounts in ours: delete
// detaches its rootfs bind, and with it everything mounted below.
Napi::Value DetachMount(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  if (umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) < 0) ThrowErrno(info.Env(), errno, "umount2", path);
  return info.Env().Undefined();
}

}  // namespace

void RegisterFsOps(Napi::Env env, Napi::Object exports) {
  SetExports(env, exports, {{"mkfifo", Mkfifo}, {"detachMount", DetachMount}, {"tryLock", TryLock}, {"unlock", Unlock},
                            {"mountsChanged", MountsChanged}});
}

}  // namespace ocirun
