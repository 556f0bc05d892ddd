// Decoding of the terminal and exec records (tags 200-239, see
// native/common/protocol.h) and the rules an exec plan must follow.
#include <errno.h>
#include <string.h>

#include <string>

#include "common/protocol.h"
#include "init/msg.h"
#include "init/plan.h"

namespace ocirun::init {

using namespace ocirun::proto;

namespace {

bool bad(const char* what, unsigned tag) {
  return fail_msg(EINVAL, "", "", std::string("plan: ") + what + " (tag " + std::to_string(tag) + ")");
}

// An fd the helper inherited: 0-3 are stdio and the plan socket, never ours to take.
bool inherited_fd(const uint8_t* p, uint32_t n, unsigned tag, int* out) {
  uint32_t v;
  if (n != 4) return bad("expected u32", tag);
  memcpy(&v, p, 4);
  if (v < 4 || v > 0x7fffffff) return bad("not an inherited descriptor", tag);
  *out = static_cast<int>(v);
  return true;
}

}  // namespace

bool decode_terminal_exec(uint16_t tag, const uint8_t* p, uint32_t n, Plan* plan) {
  switch (tag) {
    case PLAN_CONSOLE_SOCKET: return inherited_fd(p, n, tag, &plan->console_fd);
    case PLAN_CONSOLE_SIZE:
      if (n != 8) return bad("expected rows and columns", tag);
      memcpy(&plan->console_rows, p, 4);
      memcpy(&plan->console_cols, p + 4, 4);
      if (plan->console_rows > 0xffff || plan->console_cols > 0xffff) return bad("terminal size out of range", tag);
      return true;
    case PLAN_EXEC_TARGET: return inherited_fd(p, n, tag, &plan->exec_target);
    case PLAN_EXEC_CGROUP: {
      std::string s(reinterpret_cast<const char*>(p), n);
      if (memchr(p, 0, n)) return bad("NUL byte in string", tag);
      if (s.empty() || s[0] != '/') return bad("path is not absolute", tag);
      plan->exec_cgroups.push_back(std::move(s));
      return true;
    }
  }
  return bad("unknown tag", tag);
}

bool validate_exec_plan(const Plan& p) {
  // Everything about the container already exists; exec may only join it.
  if (p.new_namespaces() != 0) return bad("exec joins namespaces, it never creates them", PLAN_NAMESPACE);
  if (!p.uid_maps.empty() || !p.gid_maps.empty()) return bad("id mappings in an exec plan", PLAN_UID_MAP);
  if (!p.rootfs.empty() || !p.state_dir.empty() || !p.mounts.empty() || !p.devices.empty() ||
      !p.symlinks.empty() || !p.masked_paths.empty() || !p.readonly_paths.empty() || !p.sysctls.empty() ||
      !p.time_offsets.empty() || p.has_hostname || p.has_domainname || p.rootfs_readonly || p.no_pivot)
    return bad("container setup in an exec plan", PLAN_EXEC_TARGET);
  if (p.process.args.empty()) return bad("missing process", PLAN_PROCESS);
  if (p.console_fd == p.exec_target) return bad("console socket and exec target are one descriptor", PLAN_EXEC_TARGET);
  return true;
}

}  // namespace ocirun::init
