// The decoded plan: the src/native/plan-schema.ts types as the helper holds
// them. plan_schema.cc maps each struct to its TypeScript interface, field by
// field, in one visit() per struct. Optional scalars carry a has_* flag where
// "absent" and "zero" mean different things to the kernel calls that consume
// them.
#pragma once
#include <stdint.h>
#include <sys/types.h>
#include <string>
#include <vector>

namespace ocirun::init {

struct Namespace {
  uint32_t type = 0;   // CLONE_NEW*
  bool join = false;   // path given
  std::string path;
};

struct IdMap { uint32_t inside, outside, size; };

struct Mount {
  std::string dest, source, type, data;
  uint64_t flags = 0;
  bool has_remount = false;
  uint64_t remount = 0;
  std::vector<uint64_t> propagation;
  bool has_attr_set = false, has_attr_clr = false;
  uint64_t attr_set = 0, attr_clr = 0;
  bool mkdir_only = false;
  bool has_symlink = false;
  std::string symlink;
  bool idmap = false, ridmap = false, copyup = false;
  std::vector<IdMap> uid_maps, gid_maps;  // empty: the container's mappings
};

struct Device {
  std::string path;
  uint32_t type = 0;  // S_IFCHR / S_IFBLK / S_IFIFO
  uint64_t major = 0, minor = 0;
  uint32_t mode = 0, uid = 0, gid = 0;
  bool bind = false;
};

struct Symlink { std::string path, target; };
struct Rlimit { uint32_t resource; uint64_t soft, hard; };
struct Caps { uint64_t bounding = 0, effective = 0, inheritable = 0, permitted = 0, ambient = 0; };
struct TimeOffset { uint32_t clock; uint32_t nanos; int64_t secs; };
struct Sysctl { std::string key, value; };

// linux.seccomp as data; native/init/seccomp.cc builds the BPF program from it.
struct SeccompArg { uint32_t index, op; uint64_t value, value_two; };
struct SeccompRule {
  std::vector<std::string> names;
  uint32_t action = 0;
  std::vector<SeccompArg> args;
};
struct Seccomp {
  uint32_t default_action = 0;
  std::vector<std::string> arches;
  uint32_t flags = 0;
  std::vector<SeccompRule> rules;
  std::string listener_path;               // empty: no listener
  std::vector<std::string> listener_state; // JSON pieces joined by the init's host pid
  std::string cache_dir, cache_key;        // empty: compile every time
};
struct Scheduler {
  uint32_t policy = 0, priority = 0;
  int32_t nice = 0;
  uint64_t flags = 0, runtime = 0, deadline = 0, period = 0;
};

struct Process {
  std::vector<std::string> args, env;
  std::string cwd;
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additional_gids;
  bool has_umask = false;
  uint32_t umask = 0;
  bool no_new_privs = false;
  std::vector<Rlimit> rlimits;
  bool has_caps = false;
  Caps caps;
  bool has_oom = false;
  int64_t oom_score_adj = 0;
  bool has_seccomp = false;
  Seccomp seccomp;
  std::string apparmor_profile;  // empty: leave the LSM context alone
  std::string selinux_label;     // empty: the label the runtime's policy transition gives
  bool has_scheduler = false;
  Scheduler scheduler;
  bool has_ioprio = false;
  uint32_t ioprio = 0;
  std::vector<uint64_t> affinity_initial, affinity_final;  // CPU masks; empty: untouched
  bool has_personality = false;
  uint32_t personality = 0;
};

enum HookKind : uint32_t {
  HOOK_CREATE_CONTAINER = 1,
  HOOK_START_CONTAINER = 2,
};

// A hook the init runs itself (createContainer, startContainer).
struct Hook {
  uint32_t kind = 0;  // HookKind
  std::string path;
  std::vector<std::string> args, env;
  uint32_t timeout = 0;  // seconds; 0: no limit
};

// The plan's variants (its `mode`): create builds a container around a new
// init; exec joins a running one (exec_mode.cc). An exec plan leaves the
// create-only fields below at their defaults: its reader accepts none of them.
enum class Mode : uint32_t { kCreate = 0, kExec = 1 };

struct Plan {
  Mode mode = Mode::kCreate;
  std::vector<Namespace> namespaces;
  std::vector<IdMap> uid_maps, gid_maps;
  bool has_hostname = false, has_domainname = false;
  std::string hostname, domainname;
  std::string rootfs;
  bool rootfs_readonly = false;
  bool no_pivot = false;
  bool host_mount_ns = false;  // no mount namespace: mount in the caller's, chroot (create only)
  bool has_root_propagation = false, has_rootfs_propagation = false;
  uint64_t root_propagation = 0, rootfs_propagation = 0;
  std::vector<Mount> mounts;
  std::vector<Device> devices;
  std::vector<Symlink> symlinks;
  std::vector<std::string> masked_paths, readonly_paths;
  std::string state_dir;
  Process process;
  std::vector<TimeOffset> time_offsets;
  std::vector<Sysctl> sysctls;
  bool debug = false;
  bool timing = false;
  // hooks (create only)
  bool hooks_pause = false;
  std::vector<Hook> hooks;
  std::vector<std::string> hook_state_create, hook_state_start;  // JSON around the pid
  // console: process.terminal. The socket is one of the inherited fds.
  int console_fd = -1;
  uint32_t console_rows = 0, console_cols = 0;
  // exec only: targetFd, the inherited pidfd of the container's init.
  int exec_target = -1;
  std::string exec_root;  // exec only: the init's root to chroot into (no mount namespace)
  bool exec_mode() const { return mode == Mode::kExec; }
  // cgroup: the init's cgroups (cgroup.cc places it; for exec, stage 0 and the process it clones).
  std::string cgroup_dir;                 // v2: CLONE_INTO_CGROUP
  std::vector<std::string> cgroup_procs;  // cgroup.procs files for the init's pid
  std::vector<std::string> cgroup_tasks;  // v1 tasks files the init writes "0" to
  bool cgroup_by_runtime = false;         // the runtime places it (systemd scope) while stage 0 waits
  bool places_cgroup() const {
    return !cgroup_dir.empty() || !cgroup_procs.empty() || !cgroup_tasks.empty() || cgroup_by_runtime;
  }
  // userns (create only): how stage 0 maps a new user namespace without root (usermaps.cc).
  bool setgroups_deny = false;
  std::string uid_map_helper, gid_map_helper;  // newuidmap/newgidmap; empty: write the map directly

  // CLONE_NEW* bits of the namespaces to create (those without a path).
  uint64_t new_namespaces() const;
  bool has_namespace(uint32_t type) const;  // new or joined
};

// Reads the plan from fd: one PLAN_ENVELOPE record, or (print mode) bytes
// until EOF. Records a failure and returns false on error or overflow.
bool read_plan(int fd, std::vector<uint8_t>* out);
// Parses, reads and checks the whole plan (plan_schema.cc); false after
// recording a failure that names the field ("plan: mounts[2].dest: ...").
bool decode_plan(const std::vector<uint8_t>& bytes, Plan* out);
// The plan as JSON under the schema's names: what decode_plan read, for
// `ocirun-init --print-plan` and the round-trip test.
std::string print_plan(Plan& plan);

}  // namespace ocirun::init
