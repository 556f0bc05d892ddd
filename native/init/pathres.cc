// Safe in-root path resolution and creation (see pathres.h for the contract).
#include "init/pathres.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

#include "init/msg.h"

namespace ocirun::init {

namespace {

constexpr int kMaxSymlinks = 40;  // same budget as the kernel's MAXSYMLINKS

// Pushes the components of `path` so that the first one ends up on top.
void push_components(const std::string& path, std::vector<std::string>* todo) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) {
      std::string c = path.substr(i, j - i);
      if (c != ".") parts.push_back(std::move(c));
    }
    i = j + 1;
  }
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) todo->push_back(std::move(*it));
}

bool read_link(int fd, std::string* out) {
  char buf[4096];
  ssize_t n = readlinkat(fd, "", buf, sizeof buf);
  if (n < 0) return false;
  if (static_cast<size_t>(n) == sizeof buf) {
    errno = ENAMETOOLONG;
    return false;
  }
  out->assign(buf, static_cast<size_t>(n));
  return true;
}

// The directory fds from the root down to the current directory; stack[0] is
// the caller's root and is never closed here. ".." pops, and can never pop the
// root, which is what confines the walk.
class DirStack {
 public:
  explicit DirStack(int root) { fds_.push_back(root); }
  ~DirStack() {
    for (size_t i = 1; i < fds_.size(); i++) close(fds_[i]);
  }
  int top() const { return fds_.back(); }
  void push(int fd) { fds_.push_back(fd); }
  void up() {
    if (fds_.size() > 1) {
      close(fds_.back());
      fds_.pop_back();
    }
  }
  void to_root() {
    while (fds_.size() > 1) up();
  }
  // Hands the top fd to the caller (a dup when it is the root).
  int take() {
    if (fds_.size() == 1) return fcntl(fds_[0], F_DUPFD_CLOEXEC, 0);
    int fd = fds_.back();
    fds_.pop_back();
    return fd;
  }

 private:
  std::vector<int> fds_;
};

// The component walk. With want_parent, stops before the final component and
// returns the parent (the final name in *leaf_name). Records failures.
int walk(int rootfd, const std::string& path, Leaf leaf, bool want_parent, std::string* leaf_name) {
  std::vector<std::string> todo;
  push_components(path, &todo);
  DirStack dirs(rootfd);
  int links = 0;
  while (!todo.empty()) {
    std::string c = std::move(todo.back());
    todo.pop_back();
    bool last = todo.empty();
    if (last && want_parent) {
      if (c == "..") return fail(EINVAL, "openat", path, "resolve parent of"), -1;
      *leaf_name = std::move(c);
      return dirs.take();
    }
    if (c == "..") {
      dirs.up();
      continue;
    }
    int fd = openat(dirs.top(), c.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
      if (last && leaf == Leaf::None) return fail(errno, "openat", path, "resolve"), -1;
      if (last && leaf == Leaf::File) {
        int f = openat(dirs.top(), c.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (f < 0 && errno != EEXIST) return fail(errno, "openat", path, "create file"), -1;
        if (f >= 0) close(f);
      } else if (mkdirat(dirs.top(), c.c_str(), 0755) < 0 && errno != EEXIST) {
        return fail(errno, "mkdirat", path, "create directory"), -1;
      }
      fd = openat(dirs.top(), c.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) return fail(errno, "openat", path, "resolve"), -1;
    struct stat st;
    if (fstat(fd, &st) < 0) {
      int e = errno;
      close(fd);
      return fail(e, "fstat", path, "resolve"), -1;
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target;
      bool ok = ++links <= kMaxSymlinks && read_link(fd, &target);
      int e = links > kMaxSymlinks ? ELOOP : errno;
      close(fd);
      if (!ok) return fail(e, "readlinkat", path, "resolve"), -1;
      // An absolute target restarts at the container root, never the host's.
      if (!target.empty() && target[0] == '/') dirs.to_root();
      push_components(target, &todo);
      continue;
    }
    if (!last) {
      if (!S_ISDIR(st.st_mode)) {
        close(fd);
        return fail(ENOTDIR, "openat", path, "resolve"), -1;
      }
      dirs.push(fd);
      continue;
    }
    return fd;
  }
  // Empty path, "/" or a path ending in "..": the directory we are in.
  if (want_parent) return fail(EINVAL, "openat", path, "resolve parent of"), -1;
  int fd = dirs.take();
  if (fd < 0) return fail(errno, "fcntl", path, "resolve"), -1;
  return fd;
}

}  // namespace

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

int open_in_root(int rootfd, const std::string& path, int flags) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  // EAGAIN: a concurrent rename raced the lookup; the kernel asks us to retry.
  for (int tries = 0; tries < 16; tries++) {
    long fd = syscall(SYS_openat2, rootfd, path.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) return static_cast<int>(fd);
  }
  return -1;
}

int mkpath_in_root(int rootfd, const std::string& path, Leaf leaf) {
  int fd = open_in_root(rootfd, path, O_PATH);
  if (fd >= 0) return fd;
  if (errno != ENOENT) return fail(errno, "openat2", path, "resolve"), -1;
  return walk(rootfd, path, leaf, false, nullptr);
}

int parent_in_root(int rootfd, const std::string& path, std::string* leaf) {
  return walk(rootfd, path, Leaf::Dir, true, leaf);
}

int mkpath_nofollow_in_root(int rootfd, const std::string& path, Leaf leaf) {
  std::string name;
  int dir = parent_in_root(rootfd, path, &name);
  if (dir < 0) return -1;
  int fd = openat(dir, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && leaf != Leaf::None) {
    int made = leaf == Leaf::Dir ? mkdirat(dir, name.c_str(), 0755)
                                 : openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (made < 0 && errno != EEXIST) {
      int e = errno;
      close(dir);
      return fail(e, leaf == Leaf::Dir ? "mkdirat" : "openat", path, "create"), -1;
    }
    if (leaf == Leaf::File && made >= 0) close(made);
    fd = openat(dir, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  }
  int e = errno;
  close(dir);
  if (fd < 0) return fail(e, "openat", path, "resolve"), -1;
  struct stat st;
  if (fstat(fd, &st) < 0) {
    e = errno;
    close(fd);
    return fail(e, "fstat", path, "resolve"), -1;
  }
  if (S_ISLNK(st.st_mode)) {
    close(fd);
    return fail_msg(ELOOP, "openat", path, path + " is a symlink in the rootfs, refusing to follow it"), -1;
  }
  return fd;
}

bool ensure_symlink(int rootfd, const std::string& path, const std::string& target, bool replace) {
  std::string name;
  int dir = parent_in_root(rootfd, path, &name);
  if (dir < 0) return false;
  char buf[4096];
  ssize_t n = readlinkat(dir, name.c_str(), buf, sizeof buf);
  bool ok = true;
  if (n >= 0) {
    if (target.compare(0, std::string::npos, buf, static_cast<size_t>(n)) == 0) {
      close(dir);
      return true;
    }
    if (!replace) ok = fail(EEXIST, "symlinkat", path, "a different symlink already exists at");
    else if (unlinkat(dir, name.c_str(), 0) < 0) ok = fail(errno, "unlinkat", path, "replace symlink");
  } else if (errno == EINVAL) {
    ok = fail(EEXIST, "symlinkat", path, "not a symlink, refusing to replace");
  } else if (errno != ENOENT) {
    ok = fail(errno, "readlinkat", path, "inspect");
  }
  if (ok && symlinkat(target.c_str(), dir, name.c_str()) < 0) ok = fail(errno, "symlinkat", path, "create symlink");
  close(dir);
  return ok;
}

}  // namespace ocirun::init
