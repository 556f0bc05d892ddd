// Decoding of the cgroup placement records (tags 260-279, see
// native/common/protocol.h) and the rules they must follow.
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

bool abs_path(const uint8_t* p, uint32_t n, unsigned tag, std::string* out) {
  if (memchr(p, 0, n)) return bad("NUL byte in string", tag);
  std::string s(reinterpret_cast<const char*>(p), n);
  if (s.empty() || s[0] != '/') return bad("path is not absolute", tag);
  *out = std::move(s);
  return true;
}

}  // namespace

bool is_cgroup_tag(uint16_t tag) {
  return tag >= PLAN_CGROUP_DIR && tag <= 279;
}

bool decode_cgroup(uint16_t tag, const uint8_t* p, uint32_t n, Plan* plan) {
  std::string s;
  switch (tag) {
    case PLAN_CGROUP_DIR:
      if (!plan->cgroup_dir.empty()) return bad("repeated record", tag);
      return abs_path(p, n, tag, &plan->cgroup_dir);
    case PLAN_CGROUP_PROCS:
      if (!abs_path(p, n, tag, &s)) return false;
      plan->cgroup_procs.push_back(std::move(s));
      return true;
  }
  return bad("unknown tag", tag);
}

bool validate_cgroup_plan(const Plan& p) {
  // An exec'd process joins the init's cgroups through PLAN_EXEC_CGROUP instead.
  if (p.exec_mode() && p.places_cgroup()) return bad("cgroup placement in an exec plan", PLAN_CGROUP_DIR);
  return true;
}

}  // namespace ocirun::init
