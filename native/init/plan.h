// The decoded init plan (see native/common/protocol.h for the wire format).
// Every optional scalar carries a has_* flag because "absent" and "zero" mean
// different things to the kernel calls that consume them.
#pragma once
#include <stdint.h>
#include <sys/types.h>
#include <string>
#include <vector>

namespace ocirun::init {

struct Namespace {
  uint32_t type = 0;   // CLONE_NEW*
  bool join = false;   // NS_PATH given
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
};

struct Plan {
  std::vector<Namespace> namespaces;
  std::vector<IdMap> uid_maps, gid_maps;
  bool has_hostname = false, has_domainname = false;
  std::string hostname, domainname;
  std::string rootfs;
  bool rootfs_readonly = false;
  bool no_pivot = false;
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

  // CLONE_NEW* bits of the namespaces to create (those without a path).
  uint64_t new_namespaces() const;
  bool has_namespace(uint32_t type) const;  // new or joined
};

// Reads fd until EOF. Records a failure and returns false on error or overflow.
bool read_plan(int fd, std::vector<uint8_t>* out);
// Decodes and validates the whole stream; unknown tags are errors.
bool decode_plan(const std::vector<uint8_t>& bytes, Plan* out);

}  // namespace ocirun::init
