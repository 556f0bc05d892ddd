// The plan schema on the C++ side: one visit() per struct, naming each field
// exactly as its src/native/plan-schema.ts interface does, with the checks
// that field must pass. JsonReader runs these to decode a plan, JsonPrinter to
// print one back (plan_json.h). Everything is checked here, before any
// namespace is touched, so later stages can trust the plan; libseccomp and the
// kernel judge the values that are theirs to judge.
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <rapidjson/error/en.h>

#include "init/msg.h"
#include "init/plan.h"
#include "init/plan_json.h"

namespace ocirun::init {

using schema::kAbsolute;
using schema::kNonEmpty;
using schema::Name;

namespace {

constexpr Name kModes[] = {{"create", static_cast<uint32_t>(Mode::kCreate)}, {"exec", static_cast<uint32_t>(Mode::kExec)}};
constexpr Name kHookKinds[] = {{"createContainer", HOOK_CREATE_CONTAINER}, {"startContainer", HOOK_START_CONTAINER}};
constexpr Name kIdmapKinds[] = {{"idmap", 1}, {"ridmap", 2}};

constexpr uint32_t kKnownNamespaces = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC |
                                      CLONE_NEWUTS | CLONE_NEWCGROUP | CLONE_NEWTIME;

// SCMP_ACT_* values: the kernel's SECCOMP_RET_* action in the high 16 bits.
bool known_action(uint32_t a) {
  switch (a & 0xffff0000u) {
    case 0x80000000u: case 0x00000000u: case 0x00030000u: case 0x7fc00000u:
    case 0x7ffc0000u: case 0x7fff0000u:
      return (a & 0xffffu) == 0;
    case 0x00050000u: case 0x7ff00000u:  // errno, trace: data in the low 16 bits
      return true;
  }
  return false;
}

bool nonzero(const std::vector<uint64_t>& mask) {
  for (uint64_t w : mask)
    if (w) return true;
  return false;
}

bool has_hook(const Plan& p, uint32_t kind) {
  for (const auto& h : p.hooks)
    if (h.kind == kind) return true;
  return false;
}

// An fd the helper inherited: 0-3 are stdio and the plan socket, never ours to take.
bool inherited(int fd) { return fd >= 4; }

}  // namespace

template <class V> void visit(V& v, Namespace& ns) {
  v.req("type", ns.type);
  v.check(__builtin_popcount(ns.type) == 1 && (ns.type & kKnownNamespaces), "type", "not a CLONE_NEW* namespace");
  v.opt("path", ns.path, ns.join, kAbsolute);
}

template <class V> void visit(V& v, IdMap& m) {
  v.req("containerID", m.inside);
  v.req("hostID", m.outside);
  v.req("size", m.size);
  v.check(m.size > 0, "size", "empty id mapping");
}

template <class V> void visit(V& v, Mount& m) {
  v.req("dest", m.dest, kAbsolute);
  v.req("source", m.source);
  v.req("type", m.type);
  v.req("flags", m.flags);
  v.req("data", m.data);
  v.opt("remountFlags", m.remount, m.has_remount);
  v.req("propagation", m.propagation);
  v.opt("attrSet", m.attr_set, m.has_attr_set);
  v.opt("attrClr", m.attr_clr, m.has_attr_clr);
  v.opt("mkdirOnly", m.mkdir_only);
  v.opt("symlink", m.symlink, m.has_symlink, kNonEmpty);
  v.check(!(m.mkdir_only && m.has_symlink), "symlink", "a mount is either mkdir-only or a symlink");
  uint32_t idmap = m.ridmap ? 2 : m.idmap ? 1 : 0;
  bool mapped = idmap != 0;
  v.name("idmap", idmap, kIdmapKinds, mapped);
  m.idmap = idmap == 1;
  m.ridmap = idmap == 2;
  v.opt("uidMappings", m.uid_maps);
  v.opt("gidMappings", m.gid_maps);
  v.opt("copyUp", m.copyup);
  v.check(mapped || (m.uid_maps.empty() && m.gid_maps.empty()), "uidMappings", "id mappings without idmap");
  v.check(m.uid_maps.empty() == m.gid_maps.empty(), "gidMappings", "uid and gid mappings go together");
  v.check(!mapped || ((m.flags & MS_BIND) && !m.mkdir_only && !m.has_symlink), "idmap", "only a bind mount can be id-mapped");
  v.check(!m.copyup || (m.type == "tmpfs" && !m.mkdir_only && !m.has_symlink), "copyUp", "only a tmpfs can copy up");
}

template <class V> void visit(V& v, Device& d) {
  v.req("path", d.path, kAbsolute);
  v.req("type", d.type);
  v.check(d.type == S_IFCHR || d.type == S_IFBLK || d.type == S_IFIFO, "type", "not S_IFCHR, S_IFBLK or S_IFIFO");
  v.req("major", d.major);
  v.req("minor", d.minor);
  v.req("mode", d.mode);
  v.check(!(d.mode & ~07777u), "mode", "not permission bits");
  v.req("uid", d.uid);
  v.req("gid", d.gid);
  v.req("bind", d.bind);
}

template <class V> void visit(V& v, Symlink& l) {
  v.req("path", l.path, kAbsolute);
  v.req("target", l.target, kNonEmpty);
}

template <class V> void visit(V& v, Rlimit& r) {
  v.req("resource", r.resource);
  v.check(r.resource < RLIM_NLIMITS, "resource", "not an RLIMIT_* resource");
  v.req("soft", r.soft);
  v.req("hard", r.hard);
}

template <class V> void visit(V& v, Caps& c) {
  v.req("bounding", c.bounding);
  v.req("effective", c.effective);
  v.req("inheritable", c.inheritable);
  v.req("permitted", c.permitted);
  v.req("ambient", c.ambient);
}

template <class V> void visit(V& v, SeccompArg& a) {
  // Syscalls take six arguments; scmp_compare runs SCMP_CMP_NE (1) .. SCMP_CMP_MASKED_EQ (7).
  v.req("index", a.index);
  v.check(a.index <= 5, "index", "a syscall has six arguments");
  v.req("op", a.op);
  v.check(a.op >= 1 && a.op <= 7, "op", "not an SCMP_CMP_* operator");
  v.req("value", a.value);
  v.req("valueTwo", a.value_two);
}

template <class V> void visit(V& v, SeccompRule& r) {
  v.req("names", r.names, kNonEmpty);
  v.check(!r.names.empty(), "names", "a rule needs a syscall");
  v.req("action", r.action);
  v.check(known_action(r.action), "action", "unknown seccomp action");
  v.req("args", r.args);
}

template <class V> void visit(V& v, Seccomp& sc) {
  v.req("defaultAction", sc.default_action);
  v.check(known_action(sc.default_action), "defaultAction", "unknown seccomp action");
  v.req("arches", sc.arches);
  v.req("flags", sc.flags);
  v.req("rules", sc.rules);
  bool listener = !sc.listener_path.empty();
  v.obj("listener", listener, [&] {
    v.req("path", sc.listener_path, kAbsolute);
    v.req("state", sc.listener_state);
    v.check(!sc.listener_state.empty(), "state", "the listener needs the state to send");
  });
  bool cache = !sc.cache_dir.empty();
  v.obj("cache", cache, [&] {
    v.req("dir", sc.cache_dir, kAbsolute);
    v.req("key", sc.cache_key);
    // One plain file name: hex digits only.
    v.check(!sc.cache_key.empty() && sc.cache_key.size() <= 128 &&
                sc.cache_key.find_first_not_of("0123456789abcdef") == std::string::npos,
            "key", "not a hex file name");
  });
}

template <class V> void visit(V& v, Scheduler& s) {
  v.req("policy", s.policy);
  v.req("nice", s.nice);
  v.req("priority", s.priority);
  v.req("flags", s.flags);
  v.req("runtime", s.runtime);
  v.req("deadline", s.deadline);
  v.req("period", s.period);
}

template <class V> void visit(V& v, Process& p) {
  v.req("args", p.args);
  v.check(!p.args.empty() && !p.args[0].empty(), "args", "a process needs a program");
  v.req("env", p.env);
  v.req("cwd", p.cwd, kAbsolute);
  v.req("uid", p.uid);
  v.req("gid", p.gid);
  v.req("additionalGids", p.additional_gids);
  v.opt("umask", p.umask, p.has_umask);
  v.check(!(p.umask & ~0777u), "umask", "not permission bits");
  v.req("noNewPrivileges", p.no_new_privs);
  v.req("rlimits", p.rlimits);
  v.opt("capabilities", p.caps, p.has_caps);
  v.opt("oomScoreAdj", p.oom_score_adj, p.has_oom);
  v.opt("seccomp", p.seccomp, p.has_seccomp);
  bool apparmor = !p.apparmor_profile.empty();
  v.opt("apparmorProfile", p.apparmor_profile, apparmor, kNonEmpty);
  bool selinux = !p.selinux_label.empty();
  v.opt("selinuxLabel", p.selinux_label, selinux, kNonEmpty);
  v.opt("scheduler", p.scheduler, p.has_scheduler);
  v.opt("ioPriority", p.ioprio, p.has_ioprio);
  bool initial = !p.affinity_initial.empty(), final = !p.affinity_final.empty();
  v.hex_words("cpuAffinityInitial", p.affinity_initial, initial);
  v.check(!initial || nonzero(p.affinity_initial), "cpuAffinityInitial", "no CPU in the mask");
  v.hex_words("cpuAffinityFinal", p.affinity_final, final);
  v.check(!final || nonzero(p.affinity_final), "cpuAffinityFinal", "no CPU in the mask");
  v.opt("personality", p.personality, p.has_personality);
}

template <class V> void visit(V& v, Hook& h) {
  bool kind = true;
  v.name("kind", h.kind, kHookKinds, kind);
  v.check(kind, "kind", "missing");
  v.req("path", h.path, kAbsolute);
  v.opt("args", h.args);
  v.opt("env", h.env);
  bool timeout = h.timeout != 0;
  v.opt("timeout", h.timeout, timeout);
  v.check(!timeout || h.timeout > 0, "timeout", "zero hook timeout");
}

template <class V> void visit(V& v, TimeOffset& t) {
  v.req("clock", t.clock);
  v.check(t.clock == CLOCK_MONOTONIC || t.clock == CLOCK_BOOTTIME, "clock", "not CLOCK_MONOTONIC or CLOCK_BOOTTIME");
  v.req("secs", t.secs);
  v.req("nanosecs", t.nanos);
  v.check(t.nanos < 1000000000u, "nanosecs", "not below one second");
}

template <class V> void visit(V& v, Sysctl& s) {
  v.req("key", s.key, kNonEmpty);
  v.req("value", s.value);
}

namespace {

// The cgroup to place the process in (plan-schema.ts CgroupPlacementPlan), with
// what only one variant adds.
template <class V, class Extra> void visit_cgroup(V& v, Plan& p, Extra extra) {
  bool cgroup = p.places_cgroup();
  v.obj("cgroup", cgroup, [&] {
    bool dir = !p.cgroup_dir.empty();
    v.opt("dir", p.cgroup_dir, dir, kAbsolute);
    v.req("procs", p.cgroup_procs, kAbsolute);
    v.opt("tasks", p.cgroup_tasks, kAbsolute);
    extra();
  });
}

// What both variants carry (plan-schema.ts CommonPlan).
template <class V> void visit_common(V& v, Plan& p) {
  v.req("process", p.process);
  v.req("debug", p.debug);
  v.opt("timing", p.timing);
  bool console = p.console_fd >= 0;
  v.obj("console", console, [&] {
    v.req("socketFd", p.console_fd);
    v.check(inherited(p.console_fd), "socketFd", "not an inherited descriptor");
    bool rows = p.console_rows != 0, cols = p.console_cols != 0;
    v.opt("rows", p.console_rows, rows);
    v.check(p.console_rows <= 0xffff, "rows", "terminal size out of range");
    v.opt("cols", p.console_cols, cols);
    v.check(p.console_cols <= 0xffff, "cols", "terminal size out of range");
  });
}

template <class V> void visit_create(V& v, Plan& p) {
  v.req("namespaces", p.namespaces);
  v.req("uidMappings", p.uid_maps);
  v.req("gidMappings", p.gid_maps);
  v.opt("hostname", p.hostname, p.has_hostname);
  v.opt("domainname", p.domainname, p.has_domainname);
  v.req("rootfs", p.rootfs, kAbsolute);
  v.check(p.rootfs.find_first_not_of('/') != std::string::npos, "rootfs", "cannot be /");
  v.req("rootfsReadonly", p.rootfs_readonly);
  v.req("noPivot", p.no_pivot);
  bool host_ns = p.host_mount_ns;
  v.opt("hostMountNamespace", p.host_mount_ns, host_ns);
  v.opt("rootPropagation", p.root_propagation, p.has_root_propagation);
  v.opt("rootfsPropagation", p.rootfs_propagation, p.has_rootfs_propagation);
  v.req("mounts", p.mounts);
  v.req("devices", p.devices);
  v.req("symlinks", p.symlinks);
  v.req("maskedPaths", p.masked_paths, kAbsolute);
  v.req("readonlyPaths", p.readonly_paths, kAbsolute);
  v.req("stateDir", p.state_dir, kAbsolute);
  v.req("timeOffsets", p.time_offsets);
  v.req("sysctls", p.sysctls);
  bool hooks = p.hooks_pause || !p.hooks.empty() || !p.hook_state_create.empty() || !p.hook_state_start.empty();
  v.obj("hooks", hooks, [&] {
    v.req("pauseForRuntimeHooks", p.hooks_pause);
    v.req("hooks", p.hooks);
    bool create = !p.hook_state_create.empty(), start = !p.hook_state_start.empty();
    v.opt("stateCreate", p.hook_state_create, create);
    v.check(!create || p.hook_state_create.size() == 2, "stateCreate", "expected the state before and after the pid");
    v.check(create || !has_hook(p, HOOK_CREATE_CONTAINER), "stateCreate", "missing for createContainer hooks");
    v.opt("stateStart", p.hook_state_start, start);
    v.check(!start || p.hook_state_start.size() == 2, "stateStart", "expected the state before and after the pid");
    v.check(start || !has_hook(p, HOOK_START_CONTAINER), "stateStart", "missing for startContainer hooks");
  });
  visit_cgroup(v, p, [&] { v.opt("byRuntime", p.cgroup_by_runtime); });
  bool uid_helper = !p.uid_map_helper.empty(), gid_helper = !p.gid_map_helper.empty();
  bool userns_mapping = p.setgroups_deny || uid_helper || gid_helper;
  v.obj("userns", userns_mapping, [&] {
    v.opt("setgroupsDeny", p.setgroups_deny);
    v.opt("uidMapHelper", p.uid_map_helper, uid_helper, kAbsolute);
    v.opt("gidMapHelper", p.gid_map_helper, gid_helper, kAbsolute);
  });

  // Across fields: what the kernel would otherwise do to the host.
  uint64_t fresh = p.new_namespaces();
  // pivot_root and every mount would otherwise hit the host: only an explicit
  // hostMountNamespace (runc's chroot mode) goes without, and then never pivots or masks.
  bool mntns = p.has_namespace(CLONE_NEWNS);
  v.check(mntns || p.host_mount_ns, "namespaces", "a mount namespace is required (or hostMountNamespace)");
  v.check(!(mntns && p.host_mount_ns), "hostMountNamespace", "set, but the plan has a mount namespace");
  v.check(!p.host_mount_ns || !p.no_pivot, "noPivot", "without a mount namespace there is no pivot_root to skip");
  v.check(!p.host_mount_ns || (p.masked_paths.empty() && p.readonly_paths.empty()), "maskedPaths",
          "masked and read-only paths need a private mount namespace");
  bool userns = fresh & CLONE_NEWUSER;
  v.check(!userns || (!p.uid_maps.empty() && !p.gid_maps.empty()), "uidMappings", "a new user namespace needs id mappings");
  v.check(userns || (p.uid_maps.empty() && p.gid_maps.empty()), "uidMappings", "id mappings without a new user namespace");
  v.check(!p.has_hostname || p.has_namespace(CLONE_NEWUTS), "hostname", "needs a UTS namespace");
  v.check(!p.has_domainname || p.has_namespace(CLONE_NEWUTS), "domainname", "needs a UTS namespace");
  v.check(p.time_offsets.empty() || (fresh & CLONE_NEWTIME), "timeOffsets", "need a new time namespace");
  for (size_t i = 0; i < p.mounts.size(); i++) {
    const Mount& m = p.mounts[i];
    // Without mappings of its own the mount takes the container's user namespace.
    v.check_at(!(m.idmap || m.ridmap) || !m.uid_maps.empty() || p.has_namespace(CLONE_NEWUSER), "mounts", i, "idmap",
               "needs mappings or a user namespace");
  }
  v.check(userns || !userns_mapping, "userns", "a mapping plan without a new user namespace");
}

template <class V> void visit_exec(V& v, Plan& p) {
  v.req("namespaces", p.namespaces);
  // Everything about the container already exists; exec may only join it.
  v.check(p.new_namespaces() == 0, "namespaces", "exec joins namespaces, it never creates them");
  v.req("targetFd", p.exec_target);
  v.check(inherited(p.exec_target), "targetFd", "not an inherited descriptor");
  v.check(p.console_fd != p.exec_target, "targetFd", "the console socket and the exec target are one descriptor");
  // The init's cgroups (cgroup.cc): stage 0 joins them.
  visit_cgroup(v, p, [] {});
  bool root = !p.exec_root.empty();
  v.opt("root", p.exec_root, root, kAbsolute);
  v.check(!root || !p.has_namespace(CLONE_NEWNS), "root", "a container with a mount namespace is entered by joining it");
}

template <class V> void visit_plan(V& v, Plan& p) {
  uint32_t mode = static_cast<uint32_t>(p.mode);
  bool has_mode = true;
  v.name("mode", mode, kModes, has_mode);
  v.check(has_mode, "mode", "missing");
  p.mode = static_cast<Mode>(mode);
  visit_common(v, p);
  if (p.exec_mode()) visit_exec(v, p);
  else visit_create(v, p);
  for (size_t i = 0; i < p.namespaces.size(); i++)
    for (size_t k = 0; k < i; k++)
      v.check_at(p.namespaces[k].type != p.namespaces[i].type, "namespaces", i, "type", "namespace listed twice");
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

bool decode_plan(const std::vector<uint8_t>& bytes, Plan* p) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (doc.HasParseError())
    return fail_msg(EINVAL, "", "", std::string("plan: not JSON: ") + rapidjson::GetParseError_En(doc.GetParseError()) +
                                        " at byte " + std::to_string(doc.GetErrorOffset()));
  schema::JsonReader r;
  r.root(doc, [&] { visit_plan(r, *p); });
  return r.ok();
}

std::string print_plan(Plan& p) {
  schema::JsonPrinter w;
  w.root(nullptr, [&] { visit_plan(w, p); });
  return w.text();
}

}  // namespace ocirun::init
