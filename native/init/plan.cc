// Decoder and validator for the plan stream. Everything is checked here, before
// any namespace is touched, so that later stages can trust the structure.
#include "init/plan.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/protocol.h"
#include "init/msg.h"

namespace ocirun::init {

using namespace ocirun::proto;

namespace {

struct Rec {
  uint16_t tag;
  const uint8_t* p;
  uint32_t n;
};

bool bad(const char* what, unsigned tag) {
  return fail_msg(EINVAL, "", "", std::string("plan: ") + what + " (tag " + std::to_string(tag) + ")");
}

// Iterates the records of one scope; a truncated header or payload is an error.
class Cursor {
 public:
  Cursor(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  // Returns 1 with a record, 0 at the end, -1 on malformed input (failure recorded).
  int next(Rec* r) {
    if (p_ == end_) return 0;
    if (static_cast<size_t>(end_ - p_) < sizeof(RecordHeader)) return bad("truncated header", 0), -1;
    RecordHeader h;
    memcpy(&h, p_, sizeof h);
    p_ += sizeof h;
    if (h.zero != 0) return bad("nonzero reserved field", h.tag), -1;
    if (h.length > static_cast<size_t>(end_ - p_)) return bad("truncated payload", h.tag), -1;
    *r = Rec{h.tag, p_, h.length};
    p_ += h.length;
    return 1;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

// Rejects a second occurrence of a non-repeated tag in one scope.
class Seen {
 public:
  bool once(uint16_t tag) {
    if (tag >= 64 * std::size(bits_)) return true;
    uint64_t bit = 1ull << (tag % 64);
    uint64_t& word = bits_[tag / 64];
    if (word & bit) return bad("duplicate record", tag);
    word |= bit;
    return true;
  }
  bool has(uint16_t tag) const { return tag < 64 * std::size(bits_) && (bits_[tag / 64] & (1ull << (tag % 64))); }

 private:
  uint64_t bits_[5] = {};  // tags 0-319
};

bool u32(const Rec& r, uint32_t* v) {
  if (r.n != 4) return bad("expected u32", r.tag);
  memcpy(v, r.p, 4);
  return true;
}
bool u64(const Rec& r, uint64_t* v) {
  if (r.n != 8) return bad("expected u64", r.tag);
  memcpy(v, r.p, 8);
  return true;
}
bool i64(const Rec& r, int64_t* v) {
  if (r.n != 8) return bad("expected i64", r.tag);
  memcpy(v, r.p, 8);
  return true;
}
bool str(const Rec& r, std::string* v) {
  if (memchr(r.p, 0, r.n)) return bad("NUL byte in string", r.tag);
  v->assign(reinterpret_cast<const char*>(r.p), r.n);
  return true;
}
bool flag(const Rec& r, bool* v) {
  if (r.n != 0) return bad("flag with payload", r.tag);
  *v = true;
  return true;
}
bool abs_path(const Rec& r, std::string* v) {
  if (!str(r, v)) return false;
  if (v->empty() || (*v)[0] != '/') return bad("path is not absolute", r.tag);
  return true;
}

// Runs `each` on every record of a nested payload, enforcing single occurrence
// except for the listed repeatable tags.
template <typename F>
bool nested(const Rec& outer, std::initializer_list<uint16_t> repeatable, Seen* seen, F each) {
  Cursor c(outer.p, outer.n);
  Rec r;
  int k;
  while ((k = c.next(&r)) == 1) {
    bool rep = false;
    for (uint16_t t : repeatable) rep |= (t == r.tag);
    if (!rep && !seen->once(r.tag)) return false;
    if (!each(r)) return false;
  }
  return k == 0;
}

bool decode_namespace(const Rec& outer, Plan* plan) {
  Namespace ns;
  Seen seen;
  bool ok = nested(outer, {}, &seen, [&](const Rec& r) {
    switch (r.tag) {
      case NS_TYPE: return u32(r, &ns.type);
      case NS_PATH: ns.join = true; return abs_path(r, &ns.path);
      default: return bad("unknown tag in namespace", r.tag);
    }
  });
  if (!ok) return false;
  if (!seen.has(NS_TYPE)) return bad("namespace without NS_TYPE", outer.tag);
  const uint32_t known = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC |
                         CLONE_NEWUTS | CLONE_NEWCGROUP | CLONE_NEWTIME;
  if (__builtin_popcount(ns.type) != 1 || !(ns.type & known)) return bad("unknown namespace type", NS_TYPE);
  if (plan->has_namespace(ns.type)) return bad("namespace listed twice", NS_TYPE);
  plan->namespaces.push_back(std::move(ns));
  return true;
}

bool decode_mount(const Rec& outer, Plan* plan) {
  Mount m;
  Seen seen;
  bool ok = nested(outer, {M_PROPAGATION, M_UID_MAP, M_GID_MAP}, &seen, [&](const Rec& r) {
    switch (r.tag) {
      case M_DEST: return abs_path(r, &m.dest);
      case M_SOURCE: return str(r, &m.source);
      case M_TYPE: return str(r, &m.type);
      case M_FLAGS: return u64(r, &m.flags);
      case M_DATA: return str(r, &m.data);
      case M_REMOUNT_FLAGS: m.has_remount = true; return u64(r, &m.remount);
      case M_PROPAGATION: {
        uint64_t v;
        if (!u64(r, &v)) return false;
        m.propagation.push_back(v);
        return true;
      }
      case M_ATTR_SET: m.has_attr_set = true; return u64(r, &m.attr_set);
      case M_ATTR_CLR: m.has_attr_clr = true; return u64(r, &m.attr_clr);
      case M_MKDIR_ONLY: return flag(r, &m.mkdir_only);
      case M_SYMLINK: m.has_symlink = true; return str(r, &m.symlink);
      default:
        if (is_mount_ext_tag(r.tag)) return decode_mount_ext(r.tag, r.p, r.n, &m);
        return bad("unknown tag in mount", r.tag);
    }
  });
  if (!ok) return false;
  if (!seen.has(M_DEST)) return bad("mount without M_DEST", outer.tag);
  if (m.mkdir_only && m.has_symlink) return bad("mount is both mkdir-only and symlink", M_SYMLINK);
  if (m.has_symlink && m.symlink.empty()) return bad("empty symlink target", M_SYMLINK);
  plan->mounts.push_back(std::move(m));
  return true;
}

bool decode_device(const Rec& outer, Plan* plan) {
  Device d;
  Seen seen;
  bool ok = nested(outer, {}, &seen, [&](const Rec& r) {
    switch (r.tag) {
      case D_PATH: return abs_path(r, &d.path);
      case D_TYPE: return u32(r, &d.type);
      case D_MAJOR: return u64(r, &d.major);
      case D_MINOR: return u64(r, &d.minor);
      case D_MODE: return u32(r, &d.mode);
      case D_UID: return u32(r, &d.uid);
      case D_GID: return u32(r, &d.gid);
      case D_BIND: return flag(r, &d.bind);
      default: return bad("unknown tag in device", r.tag);
    }
  });
  if (!ok) return false;
  if (!seen.has(D_PATH) || !seen.has(D_TYPE)) return bad("device without path or type", outer.tag);
  if (d.type != S_IFCHR && d.type != S_IFBLK && d.type != S_IFIFO) return bad("bad device type", D_TYPE);
  if (d.mode & ~07777u) return bad("bad device mode", D_MODE);
  plan->devices.push_back(std::move(d));
  return true;
}

bool decode_symlink(const Rec& outer, Plan* plan) {
  Symlink l;
  Seen seen;
  bool ok = nested(outer, {}, &seen, [&](const Rec& r) {
    switch (r.tag) {
      case L_PATH: return abs_path(r, &l.path);
      case L_TARGET: return str(r, &l.target);
      default: return bad("unknown tag in symlink", r.tag);
    }
  });
  if (!ok) return false;
  if (!seen.has(L_PATH) || l.target.empty()) return bad("symlink without path or target", outer.tag);
  plan->symlinks.push_back(std::move(l));
  return true;
}

bool decode_process(const Rec& outer, Process* p) {
  Seen seen;
  bool ok = nested(outer, {P_ARG, P_ENV, P_ADDITIONAL_GID, P_RLIMIT}, &seen, [&](const Rec& r) {
    std::string s;
    uint32_t v;
    switch (r.tag) {
      case P_ARG: if (!str(r, &s)) return false; p->args.push_back(std::move(s)); return true;
      case P_ENV: if (!str(r, &s)) return false; p->env.push_back(std::move(s)); return true;
      case P_CWD: return abs_path(r, &p->cwd);
      case P_UID: return u32(r, &p->uid);
      case P_GID: return u32(r, &p->gid);
      case P_ADDITIONAL_GID: if (!u32(r, &v)) return false; p->additional_gids.push_back(v); return true;
      case P_UMASK: p->has_umask = true; return u32(r, &p->umask);
      case P_NO_NEW_PRIVS: return flag(r, &p->no_new_privs);
      case P_RLIMIT: {
        if (r.n != 24) return bad("expected 24-byte rlimit", r.tag);
        Rlimit l;
        uint32_t zero;
        memcpy(&l.resource, r.p, 4);
        memcpy(&zero, r.p + 4, 4);
        memcpy(&l.soft, r.p + 8, 8);
        memcpy(&l.hard, r.p + 16, 8);
        if (zero != 0 || l.resource >= RLIM_NLIMITS) return bad("bad rlimit resource", r.tag);
        p->rlimits.push_back(l);
        return true;
      }
      case P_CAPS: return flag(r, &p->has_caps);
      case P_CAP_BOUNDING: return u64(r, &p->caps.bounding);
      case P_CAP_EFFECTIVE: return u64(r, &p->caps.effective);
      case P_CAP_INHERITABLE: return u64(r, &p->caps.inheritable);
      case P_CAP_PERMITTED: return u64(r, &p->caps.permitted);
      case P_CAP_AMBIENT: return u64(r, &p->caps.ambient);
      case P_OOM_SCORE_ADJ: p->has_oom = true; return i64(r, &p->oom_score_adj);
      default:
        if (is_process_attr_tag(r.tag)) return decode_process_attr(r.tag, r.p, r.n, p);
        return bad("unknown tag in process", r.tag);
    }
  });
  if (!ok) return false;
  if (p->args.empty() || p->args[0].empty()) return bad("process without args", P_ARG);
  if (!seen.has(P_CWD)) return bad("process without cwd", P_CWD);
  if (p->umask & ~0777u) return bad("bad umask", P_UMASK);
  return true;
}

bool decode_sysctl(const Rec& outer, Plan* plan) {
  Sysctl s;
  Seen seen;
  bool ok = nested(outer, {}, &seen, [&](const Rec& r) {
    switch (r.tag) {
      case SYSCTL_KEY: return str(r, &s.key);
      case SYSCTL_VALUE: return str(r, &s.value);
      default: return bad("unknown tag in sysctl", r.tag);
    }
  });
  if (!ok) return false;
  if (s.key.empty() || !seen.has(SYSCTL_VALUE)) return bad("sysctl without key or value", outer.tag);
  plan->sysctls.push_back(std::move(s));
  return true;
}

bool decode_time_offset(const Rec& r, Plan* plan) {
  if (r.n != 16) return bad("expected 16-byte time offset", r.tag);
  TimeOffset t;
  memcpy(&t.clock, r.p, 4);
  memcpy(&t.nanos, r.p + 4, 4);
  memcpy(&t.secs, r.p + 8, 8);
  if ((t.clock != CLOCK_MONOTONIC && t.clock != CLOCK_BOOTTIME) || t.nanos >= 1000000000u)
    return bad("bad time offset", r.tag);
  plan->time_offsets.push_back(t);
  return true;
}

bool decode_idmap(const Rec& r, std::vector<IdMap>* out) {
  if (r.n != 12) return bad("expected 12-byte id mapping", r.tag);
  IdMap m;
  memcpy(&m, r.p, 12);
  if (m.size == 0) return bad("empty id mapping", r.tag);
  out->push_back(m);
  return true;
}

// Cross-record rules: things the kernel would otherwise do to the host.
bool validate(const Plan& p, const Seen& seen) {
  if (!seen.has(PLAN_ROOTFS)) return bad("missing rootfs", PLAN_ROOTFS);
  if (!seen.has(PLAN_STATE_DIR)) return bad("missing state dir", PLAN_STATE_DIR);
  if (!seen.has(PLAN_PROCESS)) return bad("missing process", PLAN_PROCESS);
  if (p.rootfs.find_first_not_of('/') == std::string::npos) return bad("rootfs cannot be /", PLAN_ROOTFS);
  uint64_t fresh = p.new_namespaces();
  // pivot_root and every mount below would otherwise hit the host.
  if (!(fresh & CLONE_NEWNS)) return bad("a new mount namespace is required", PLAN_NAMESPACE);
  if (fresh & CLONE_NEWUSER) {
    if (p.uid_maps.empty() || p.gid_maps.empty()) return bad("new user namespace without id mappings", PLAN_UID_MAP);
  } else if (!p.uid_maps.empty() || !p.gid_maps.empty()) {
    return bad("id mappings without a new user namespace", PLAN_UID_MAP);
  }
  if (p.has_hostname && !p.has_namespace(CLONE_NEWUTS)) return bad("hostname without a UTS namespace", PLAN_HOSTNAME);
  if (p.has_domainname && !p.has_namespace(CLONE_NEWUTS)) return bad("domainname without a UTS namespace", PLAN_DOMAINNAME);
  if (!p.time_offsets.empty() && !(fresh & CLONE_NEWTIME)) return bad("time offsets without a new time namespace", PLAN_TIME_OFFSET);
  return true;
}

}  // namespace

uint64_t Plan::new_namespaces() const {
  uint64_t f = 0;
  for (const auto& ns : namespaces)
    if (!ns.join) f |= ns.type;
  return f;
}

bool Plan::has_namespace(uint32_t type) const {
  for (const auto& ns : namespaces)
    if (ns.type == type) return true;
  return false;
}

namespace {

// Reads exactly len bytes; false with errno set (0 on EOF).
bool read_full(int fd, uint8_t* buf, size_t len) {
  for (size_t off = 0; off < len;) {
    ssize_t n = read(fd, buf + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = 0;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

bool read_plan(int fd, std::vector<uint8_t>* out) {
  RecordHeader h{};
  if (!read_full(fd, reinterpret_cast<uint8_t*>(&h), sizeof h))
    return fail(errno ? errno : EPROTO, "read", "", "read plan");
  if (h.tag == PLAN_ENVELOPE) {
    // The addon's form: the socket stays open, so the length says where the plan ends.
    if (h.zero != 0 || h.length > kMaxPlanBytes) return fail(E2BIG, "read", "", "plan too large");
    out->resize(h.length);
    if (!read_full(fd, out->data(), h.length)) return fail(errno ? errno : EPROTO, "read", "", "read plan");
    return true;
  }
  // A bare record stream ended by EOF: the header just read is its first record.
  out->resize(64 * 1024);
  memcpy(out->data(), &h, sizeof h);
  size_t used = sizeof h;
  for (;;) {
    if (used == out->size()) {
      if (out->size() > kMaxPlanBytes) return fail(E2BIG, "read", "", "plan too large");
      out->resize(out->size() * 2);
    }
    ssize_t n = read(fd, out->data() + used, out->size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno, "read", "", "read plan");
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > kMaxPlanBytes) return fail(E2BIG, "read", "", "plan too large");
  out->resize(used);
  out->shrink_to_fit();
  return true;
}

bool decode_plan(const std::vector<uint8_t>& bytes, Plan* p) {
  Cursor c(bytes.data(), bytes.size());
  Seen seen;
  Rec r;
  int k;
  while ((k = c.next(&r)) == 1) {
    switch (r.tag) {
      case PLAN_NAMESPACE: case PLAN_UID_MAP: case PLAN_GID_MAP: case PLAN_MOUNT: case PLAN_DEVICE:
      case PLAN_SYMLINK: case PLAN_MASKED_PATH: case PLAN_READONLY_PATH: case PLAN_TIME_OFFSET:
      case PLAN_SYSCTL: case PLAN_HOOK: case PLAN_HOOK_STATE_CREATE: case PLAN_HOOK_STATE_START:
      case PLAN_EXEC_CGROUP: case PLAN_CGROUP_PROCS:
        break;
      default:
        if (!seen.once(r.tag)) return false;
    }
    bool ok;
    std::string s;
    switch (r.tag) {
      case PLAN_NAMESPACE: ok = decode_namespace(r, p); break;
      case PLAN_UID_MAP: ok = decode_idmap(r, &p->uid_maps); break;
      case PLAN_GID_MAP: ok = decode_idmap(r, &p->gid_maps); break;
      case PLAN_HOSTNAME: p->has_hostname = true; ok = str(r, &p->hostname); break;
      case PLAN_DOMAINNAME: p->has_domainname = true; ok = str(r, &p->domainname); break;
      case PLAN_ROOTFS: ok = abs_path(r, &p->rootfs); break;
      case PLAN_ROOTFS_READONLY: ok = flag(r, &p->rootfs_readonly); break;
      case PLAN_NO_PIVOT: ok = flag(r, &p->no_pivot); break;
      case PLAN_ROOT_PROPAGATION: p->has_root_propagation = true; ok = u64(r, &p->root_propagation); break;
      case PLAN_ROOTFS_PROPAGATION: p->has_rootfs_propagation = true; ok = u64(r, &p->rootfs_propagation); break;
      case PLAN_MOUNT: ok = decode_mount(r, p); break;
      case PLAN_DEVICE: ok = decode_device(r, p); break;
      case PLAN_SYMLINK: ok = decode_symlink(r, p); break;
      case PLAN_MASKED_PATH: ok = abs_path(r, &s); p->masked_paths.push_back(s); break;
      case PLAN_READONLY_PATH: ok = abs_path(r, &s); p->readonly_paths.push_back(s); break;
      case PLAN_STATE_DIR: ok = abs_path(r, &p->state_dir); break;
      case PLAN_PROCESS: ok = decode_process(r, &p->process); break;
      case PLAN_TIME_OFFSET: ok = decode_time_offset(r, p); break;
      case PLAN_SYSCTL: ok = decode_sysctl(r, p); break;
      case PLAN_DEBUG: ok = flag(r, &p->debug); break;
      case PLAN_TIMING: ok = flag(r, &p->timing); break;
      case PLAN_CONSOLE_SOCKET: case PLAN_CONSOLE_SIZE: case PLAN_EXEC_TARGET: case PLAN_EXEC_CGROUP:
        ok = decode_terminal_exec(r.tag, r.p, r.n, p); break;
      default:
        if (is_cgroup_tag(r.tag)) ok = decode_cgroup(r.tag, r.p, r.n, p);
        else ok = is_plan_ext_tag(r.tag) ? decode_plan_ext(r.tag, r.p, r.n, p) : bad("unknown tag", r.tag);
    }
    if (!ok) return false;
  }
  if (k != 0) return false;
  if (p->exec_mode()) return validate_exec_plan(*p) && validate_cgroup_plan(*p);
  return validate(*p, seen) && validate_plan_ext(*p) && validate_cgroup_plan(*p);
}

}  // namespace ocirun::init
