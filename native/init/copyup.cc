// tmpcopyup: a tmpfs mounted over an image directory starts with a copy of
// what the directory held (runc's EXT_COPYUP). Everything is reached through
// directory fds with O_NOFOLLOW, so a symlink in the image is copied as a
// symlink and never followed, in or out of the rootfs.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "init/fd.h"
#include "init/msg.h"
#include "init/steps.h"

namespace ocirun::init {

namespace {

// Deeper trees are a hostile image, not a real /var or /etc.
constexpr int kMaxDepth = 128;

// Ownership the user namespace cannot express (EINVAL: unmapped id) stays
// with us, as for any file a container creates; anything else is an error.
bool own(int dir, const char* name, const struct stat& st, const std::string& path) {
  if (fchownat(dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) == 0 || errno == EINVAL) return true;
  return fail(errno, "fchownat", path, "tmpcopyup: chown");
}

bool times(int dir, const char* name, const struct stat& st, const std::string& path) {
  timespec ts[2] = {st.st_atim, st.st_mtim};
  if (utimensat(dir, name, ts, AT_SYMLINK_NOFOLLOW) < 0) return fail(errno, "utimensat", path, "tmpcopyup: set times of");
  return true;
}

bool copy_file(int from, int to, const char* name, const struct stat& st, const std::string& path) {
  Fd in(openat(from, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (in.get() < 0) return fail(errno, "openat", path, "tmpcopyup: open");
  Fd out(openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (out.get() < 0) return fail(errno, "openat", path, "tmpcopyup: create");
  for (off_t left = st.st_size; left > 0;) {
    ssize_t n = sendfile(out.get(), in.get(), nullptr, size_t(std::min<off_t>(left, 1 << 30)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errno, "sendfile", path, "tmpcopyup: copy");
    if (n == 0) break;  // the file shrank while we copied it
    left -= n;
  }
  return true;
}

bool copy_tree(int from, int to, const std::string& base, int depth);

bool copy_entry(int from, int to, const char* name, const std::string& path, int depth) {
  struct stat st;
  if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return fail(errno, "fstatat", path, "tmpcopyup: inspect");
  mode_t perm = st.st_mode & 07777;
  switch (st.st_mode & S_IFMT) {
    case S_IFDIR: {
      if (mkdirat(to, name, 0700) < 0) return fail(errno, "mkdirat", path, "tmpcopyup: create");
      Fd sub_from(openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      Fd sub_to(openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub_from.get() < 0 || sub_to.get() < 0) return fail(errno, "openat", path, "tmpcopyup: open");
      if (!copy_tree(sub_from.get(), sub_to.get(), path, depth + 1)) return false;
      break;
    }
    case S_IFREG:
      if (!copy_file(from, to, name, st, path)) return false;
      break;
    case S_IFLNK: {
      char target[PATH_MAX];
      ssize_t n = readlinkat(from, name, target, sizeof target - 1);
      if (n < 0) return fail(errno, "readlinkat", path, "tmpcopyup: read link");
      target[n] = '\0';
      if (symlinkat(target, to, name) < 0) return fail(errno, "symlinkat", path, "tmpcopyup: create link");
      return own(to, name, st, path) && times(to, name, st, path);
    }
    case S_IFCHR: case S_IFBLK: case S_IFIFO:
      if (mknodat(to, name, (st.st_mode & S_IFMT) | 0600, st.st_rdev) < 0) return fail(errno, "mknodat", path, "tmpcopyup: create");
      break;
    default:
      return true;  // sockets belong to whoever listens on them, not to a copy
  }
  // Owner before mode: chown clears set-id bits.
  if (!own(to, name, st, path)) return false;
  if (fchmodat(to, name, perm, 0) < 0) return fail(errno, "fchmodat", path, "tmpcopyup: chmod");
  return times(to, name, st, path);
}

bool copy_tree(int from, int to, const std::string& base, int depth) {
  if (depth > kMaxDepth) return fail(ELOOP, "", base, "tmpcopyup: directory tree too deep at");
  // fdopendir takes the fd it is given; ours must stay usable for the *at calls.
  int dup = fcntl(from, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return fail(errno, "fcntl", base, "tmpcopyup: read");
  DIR* d = fdopendir(dup);
  if (!d) {
    close(dup);
    return fail(errno, "fdopendir", base, "tmpcopyup: read");
  }
  bool ok = true;
  errno = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0'))) continue;
    std::string path = (base == "/" ? "" : base) + "/" + e->d_name;
    if (!(ok = copy_entry(from, to, e->d_name, path, depth))) break;
    errno = 0;
  }
  if (ok && errno != 0) ok = fail(errno, "readdir", base, "tmpcopyup: read");
  closedir(d);
  return ok;
}

}  // namespace

bool copy_up(int from_dir, int to_dir, const std::string& dest) {
  // Modes are restated exactly; the inherited umask must not trim them meanwhile.
  mode_t old = umask(0);
  bool ok = copy_tree(from_dir, to_dir, dest, 0);
  umask(old);
  return ok;
}

}  // namespace ocirun::init
