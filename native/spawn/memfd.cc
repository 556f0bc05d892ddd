#include "spawn/memfd.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#include <mutex>

namespace ocirun {
namespace {

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

struct Identity {
  std::string path;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = -1;
  timespec mtime{};
  timespec ctime{};

  bool operator==(const Identity& o) const {
    return path == o.path && dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec && ctime.tv_sec == o.ctime.tv_sec && ctime.tv_nsec == o.ctime.tv_nsec;
  }
};

Identity IdentityOf(const std::string& path, const struct stat& st) {
  return Identity{path, st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
}

struct Cache {
  std::mutex mu;
  Identity id;
  UniqueFd fd;
};

// Never destroyed: Node may exit() while a libuv worker is inside SealedHelper,
// and a static destructor would pull the mutex out from under it.
Cache& TheCache() {
  static Cache* cache = new Cache;
  return *cache;
}

bool CopyInto(int dst, int src, off_t size, SysError* err) {
  off_t done = 0;
  bool use_sendfile = true;
  char buf[64 * 1024];
  while (done < size) {
    ssize_t n;
    if (use_sendfile) {
      n = sendfile(dst, src, nullptr, size_t(size - done));
      if (n < 0 && (errno == EINVAL || errno == ENOSYS) && done == 0) {
        use_sendfile = false;
        continue;
      }
    } else {
      n = read(src, buf, sizeof buf);
      if (n > 0) {
        for (ssize_t w = 0; w < n;) {
          ssize_t m = write(dst, buf + w, size_t(n - w));
          if (m < 0 && errno == EINTR) continue;
          if (m < 0) {
            *err = SysError::Errno(errno, "write", {}, "copying the init helper into a memfd");
            return false;
          }
          w += m;
        }
      }
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *err = SysError::Errno(errno, use_sendfile ? "sendfile" : "read", {}, "copying the init helper into a memfd");
      return false;
    }
    if (n == 0) break;  // the file shrank under us; caught below
    done += n;
  }
  if (done != size) {
    *err = SysError::Plain("the init helper changed while it was being copied");
    return false;
  }
  return true;
}

bool MakeSealedCopy(int src, off_t size, UniqueFd* out, SysError* err) {
  // MFD_EXEC: kernels with vm.memfd_noexec may otherwise create it non-executable.
  UniqueFd mfd(memfd_create("ocirun-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC));
  if (!mfd.valid() && errno == EINVAL) mfd.reset(memfd_create("ocirun-init", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!mfd.valid()) {
    *err = SysError::Errno(errno, "memfd_create", {}, "preparing the init helper");
    return false;
  }
  if (!CopyInto(mfd.get(), src, size, err)) return false;
  // Read+exec only: defence in depth for anyone without CAP_DAC_OVERRIDE; the
  // seals below are what actually stop root.
  if (fchmod(mfd.get(), 0555) < 0) {
    *err = SysError::Errno(errno, "fchmod", {}, "preparing the init helper");
    return false;
  }
  // F_SEAL_EXEC (6.3+) also freezes the mode bits; older kernels reject it.
  const int seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
  if (fcntl(mfd.get(), F_ADD_SEALS, seals | F_SEAL_EXEC) < 0 &&
      (errno != EINVAL || fcntl(mfd.get(), F_ADD_SEALS, seals) < 0)) {
    *err = SysError::Errno(errno, "fcntl", {}, "sealing the init helper memfd");
    return false;
  }
  *out = std::move(mfd);
  return true;
}

}  // namespace

bool SealedHelper(const std::string& helper, UniqueFd* out, SysError* err) {
  Cache& cache = TheCache();
  std::lock_guard<std::mutex> lock(cache.mu);

  // Compare by stat first so the common case costs one syscall and no open().
  struct stat st;
  if (stat(helper.c_str(), &st) < 0) {
    *err = SysError::Errno(errno, "stat", helper, "opening the init helper");
    return false;
  }
  if (!cache.fd.valid() || !(IdentityOf(helper, st) == cache.id)) {
    UniqueFd src(open(helper.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!src.valid() || fstat(src.get(), &st) < 0) {
      *err = SysError::Errno(errno, "open", helper, "opening the init helper");
      return false;
    }
    if (!S_ISREG(st.st_mode)) {
      *err = SysError::Errno(EACCES, "open", helper, "the init helper is not a regular file");
      return false;
    }
    UniqueFd sealed;
    if (!MakeSealedCopy(src.get(), st.st_size, &sealed, err)) return false;
    // Identity from the fd we copied, so a file replaced between stat and open
    // is recorded as what we actually hold.
    cache.id = IdentityOf(helper, st);
    cache.fd = std::move(sealed);
  }
  out->reset(fcntl(cache.fd.get(), F_DUPFD_CLOEXEC, 0));
  if (!out->valid()) {
    *err = SysError::Errno(errno, "fcntl", {}, "duplicating the init helper memfd");
    return false;
  }
  return true;
}

}  // namespace ocirun
