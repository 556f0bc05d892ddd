// Id-mapped bind mounts (the "idmap"/"ridmap" options). MOUNT_ATTR_IDMAP needs
// CAP_SYS_ADMIN over the source's superblock, i.e. in the host's user
// namespace, and a mount nobody has seen yet. So stage 0, before it joins
// anything, clones each source with open_tree(OPEN_TREE_CLONE) and id-maps the
// clone; the init (possibly in a user namespace of its own by then) inherits
// the detached trees and only has to move them into place.
//
// The mapping comes from a user namespace made for it: the mount's own
// uidMappings/gidMappings, else the container's (same mappings as the one
// clone3 creates: an id-mapped mount needs the mapping, not that namespace),
// else a joined user namespace itself.
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init/msg.h"
#include "init/steps.h"

namespace ocirun::init {

namespace {

struct Tree {
  const Mount* mount;
  int fd;
};
std::vector<Tree> g_trees;

struct Userns {
  const std::vector<IdMap>* uid;
  const std::vector<IdMap>* gid;
  int fd;
};

bool same(const std::vector<IdMap>& a, const std::vector<IdMap>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (a[i].inside != b[i].inside || a[i].outside != b[i].outside || a[i].size != b[i].size) return false;
  return true;
}

bool write_map(pid_t pid, const char* file, const std::vector<IdMap>& maps) {
  std::string data;
  char line[64];
  for (const auto& m : maps) {
    snprintf(line, sizeof line, "%u %u %u\n", m.inside, m.outside, m.size);
    data += line;
  }
  std::string path = "/proc/" + std::to_string(pid) + "/" + file;
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail(errno, "open", path, "write id map for an idmap mount:");
  // One write: a map can only be written once.
  ssize_t n = write(fd, data.data(), data.size());
  int e = errno;
  close(fd);
  if (n != static_cast<ssize_t>(data.size())) return fail(n < 0 ? e : EIO, "write", path, "write id map for an idmap mount:");
  return true;
}

// A child born in a new user namespace holds it while we map it and take a
// reference; then it exits.
int make_userns(const std::vector<IdMap>& uid, const std::vector<IdMap>& gid) {
  int sync[2];
  if (pipe2(sync, O_CLOEXEC) < 0) return fail(errno, "pipe2", "", "create user namespace for idmap mount"), -1;
  clone_args args{};
  args.flags = CLONE_NEWUSER;
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) {
    close(sync[1]);
    char c;
    ssize_t n;
    do n = read(sync[0], &c, 1);
    while (n < 0 && errno == EINTR);
    _exit(0);
  }
  int e = errno;
  close(sync[0]);
  int fd = -1;
  if (pid < 0) {
    fail(e, "clone3", "", "create user namespace for idmap mount");
  } else if (write_map(pid_t(pid), "uid_map", uid) && write_map(pid_t(pid), "gid_map", gid)) {
    std::string ns = "/proc/" + std::to_string(pid) + "/ns/user";
    fd = open(ns.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(errno, "open", ns, "open user namespace for idmap mount:");
  }
  close(sync[1]);
  if (pid > 0) {
    pid_t w;
    do w = waitpid(pid_t(pid), nullptr, 0);
    while (w < 0 && errno == EINTR);
  }
  return fd;
}

int joined_userns(const Plan& plan) {
  for (const auto& ns : plan.namespaces) {
    if (ns.type != CLONE_NEWUSER || !ns.join) continue;
    int fd = open(ns.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(errno, "open", ns.path, "open user namespace for idmap mount:");
    return fd;
  }
  return fail(EINVAL, "", "", "idmap mount without mappings or a user namespace"), -1;
}

bool clone_and_map(const Mount& m, int userns) {
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((m.flags & MS_REC) ? AT_RECURSIVE : 0);
  int tree = static_cast<int>(syscall(SYS_open_tree, AT_FDCWD, m.source.c_str(), flags));
  if (tree < 0) return fail_msg(errno, "open_tree", m.source, "clone " + m.source + " for the idmap mount on " + m.dest);
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(userns);
  // "idmap" maps the mount itself, "ridmap" every mount of the (recursive) clone.
  unsigned at = AT_EMPTY_PATH | (m.ridmap ? AT_RECURSIVE : 0);
  if (syscall(SYS_mount_setattr, tree, "", at, &attr, sizeof attr) < 0) {
    int e = errno;
    close(tree);
    return fail_msg(e, "mount_setattr", m.dest,
                    "id-map " + m.source + " for " + m.dest + " (its file system may not support idmapped mounts)");
  }
  g_trees.push_back({&m, tree});
  return true;
}

}  // namespace

bool prepare_idmap_mounts(const Plan& plan) {
  std::vector<Userns> made;
  int joined = -1;
  bool ok = true;
  for (const auto& m : plan.mounts) {
    if (!ok) break;
    if (!m.idmap && !m.ridmap) continue;
    int userns = -1;
    if (m.uid_maps.empty() && !(plan.new_namespaces() & CLONE_NEWUSER)) {
      if (joined < 0) joined = joined_userns(plan);
      userns = joined;
    } else {
      const auto& uid = m.uid_maps.empty() ? plan.uid_maps : m.uid_maps;
      const auto& gid = m.gid_maps.empty() ? plan.gid_maps : m.gid_maps;
      for (const auto& u : made)
        if (same(*u.uid, uid) && same(*u.gid, gid)) userns = u.fd;
      if (userns < 0 && (userns = make_userns(uid, gid)) >= 0) made.push_back({&uid, &gid, userns});
    }
    ok = userns >= 0 && clone_and_map(m, userns);
  }
  for (const auto& u : made) close(u.fd);
  if (joined >= 0) close(joined);
  return ok;
}

bool attach_idmap_mount(const Mount& m, int target) {
  for (auto& t : g_trees) {
    if (t.mount != &m || t.fd < 0) continue;
    long r = syscall(SYS_move_mount, t.fd, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    int e = errno;
    close(t.fd);
    t.fd = -1;
    if (r < 0) return fail_msg(e, "move_mount", m.dest, "attach id-mapped " + m.source + " on " + m.dest);
    return true;
  }
  return fail_msg(EINVAL, "", m.dest, "no id-mapped clone prepared for " + m.dest);
}

}  // namespace ocirun::init
