// ReadPeerNamespaces (engine/peer.h). SO_PEERCRED's pid names the peer only
// while it lives: once it exits, the number may go to another process, whose
// /proc/<pid>/ns would answer for it. A pidfd from SO_PEERPIDFD pins the
// peer itself: its namespaces are read through it, or read from /proc and
// the pidfd asked afterwards whether that pid was still the peer's.
#include "engine/peer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "spawn/fd.h"
#include "spawn/pidfd_of.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77  // Linux 6.5
#endif

namespace ocirun::engine {

namespace {

// linux/pidfd.h (Linux 6.11): an fd of the pidfd's process's namespace.
constexpr unsigned long PidfdNsIoctl(unsigned nr) { return _IO(0xFF, nr); }

unsigned long NsIoctl(const std::string& name) {
  static const struct { const char* name; unsigned nr; } kIoctls[] = {
      {"cgroup", 1}, {"ipc", 2}, {"mnt", 3}, {"net", 4}, {"pid", 5}, {"time", 7}, {"user", 9}, {"uts", 10},
  };
  for (const auto& k : kIoctls) {
    if (name == k.name) return PidfdNsIoctl(k.nr);
  }
  return 0;
}

std::string Id(const std::string& name, const struct stat& st) {
  return name + ":" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

// 0, or an errno; ENOTTY/EINVAL: this kernel has no such ioctl.
int ThroughPidfd(int pidfd, const std::string& name, std::string* id) {
  unsigned long req = NsIoctl(name);
  if (req == 0) return EINVAL;
  UniqueFd ns(ioctl(pidfd, req, 0));
  if (!ns.valid()) return errno;
  struct stat st;
  if (fstat(ns.get(), &st) < 0) return errno;
  *id = Id(name, st);
  return 0;
}

int ThroughProc(pid_t pid, const std::string& name, std::string* id) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/%s", int(pid), name.c_str());
  struct stat st;
  if (stat(path, &st) < 0) return errno;
  *id = Id(name, st);
  return 0;
}

}  // namespace

PeerNamespaces ReadPeerNamespaces(int sock, pid_t pid, const std::vector<std::string>& names) {
  PeerNamespaces out;
  int raw = -1;
  socklen_t len = sizeof raw;
  UniqueFd pidfd(getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &raw, &len) == 0 ? raw : -1);
  std::vector<std::string> ids(names.size());
  bool by_pidfd = pidfd.valid();
  for (size_t i = 0; i < names.size(); i++) {
    int e = by_pidfd ? ThroughPidfd(pidfd.get(), names[i], &ids[i]) : -1;
    if (e == ESRCH) {
      out.why = "the caller has exited";
      return out;
    }
    // A kernel without these ioctls (before 6.11): /proc for all, checked below.
    if (i == 0 && (e == ENOTTY || e == EINVAL || e == EOPNOTSUPP)) by_pidfd = false;
    if (e != 0 && by_pidfd) {
      out.why = "cannot read the caller's " + names[i] + " namespace: " + strerror(e);
      return out;
    }
    if (!by_pidfd && (e = ThroughProc(pid, names[i], &ids[i])) != 0) {
      out.why = "cannot read the caller's namespaces: /proc/" + std::to_string(pid) + "/ns/" + names[i] + ": " + strerror(e);
      return out;
    }
  }
  if (by_pidfd) {
    out.how = "pidfd";
  } else if (pidfd.valid()) {
    // The peer was alive after /proc was read, so its pid was never free for
    // another process in between: what /proc showed was the peer's.
    if (PidOfPidfd(pidfd.get()) != pid) {
      out.why = "the caller has exited";
      return out;
    }
    out.how = "proc+pidfd";
  } else {
    out.how = "proc";
  }
  out.ids = std::move(ids);
  return out;
}

}  // namespace ocirun::engine
