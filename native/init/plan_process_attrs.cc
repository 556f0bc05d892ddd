// Decoder for the process records in tags 120-169 (seccomp, AppArmor,
// scheduler, I/O priority, CPU affinity, personality). Kept apart from plan.cc
// so each concern owns its wire format; the checks here are structural only,
// libseccomp and the kernel judge the values.
#include <string.h>

#include <initializer_list>

#include "common/protocol.h"
#include "init/msg.h"
#include "init/plan.h"
#include "init/plan_records.h"

namespace ocirun::init {

using namespace ocirun::proto;

namespace {

using namespace records;

bool cpu_mask(const Rec& r, std::vector<uint64_t>* out) {
  if (r.n == 0 || r.n % 8 != 0) return bad("CPU mask must be a non-empty multiple of 8 bytes", r.tag);
  out->resize(r.n / 8);
  memcpy(out->data(), r.p, r.n);
  for (uint64_t w : *out)
    if (w) return true;
  return bad("empty CPU mask", r.tag);
}

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

bool decode_rule(const Rec& outer, Seccomp* sc) {
  SeccompRule rule;
  bool has_action = false;
  bool ok = each_record(outer.p, outer.n, {SR_NAME, SR_ARG}, [&](const Rec& r) {
    std::string s;
    switch (r.tag) {
      case SR_NAME:
        if (!str(r, &s)) return false;
        if (s.empty()) return bad("empty syscall name", r.tag);
        rule.names.push_back(std::move(s));
        return true;
      case SR_ACTION:
        has_action = true;
        if (!u32(r, &rule.action)) return false;
        return known_action(rule.action) || bad("unknown seccomp action", r.tag);
      case SR_ARG: {
        if (r.n != 24) return bad("expected 24-byte seccomp argument", r.tag);
        SeccompArg a;
        memcpy(&a.index, r.p, 4);
        memcpy(&a.op, r.p + 4, 4);
        memcpy(&a.value, r.p + 8, 8);
        memcpy(&a.value_two, r.p + 16, 8);
        // scmp_compare: SCMP_CMP_NE (1) .. SCMP_CMP_MASKED_EQ (7); syscalls take six arguments.
        if (a.index > 5 || a.op < 1 || a.op > 7) return bad("bad seccomp argument", r.tag);
        rule.args.push_back(a);
        return true;
      }
      default: return bad("unknown tag in seccomp rule", r.tag);
    }
  });
  if (!ok) return false;
  if (rule.names.empty() || !has_action) return bad("seccomp rule without names or action", outer.tag);
  sc->rules.push_back(std::move(rule));
  return true;
}

bool decode_seccomp(const Rec& outer, Process* p) {
  Seccomp& sc = p->seccomp;
  bool has_default = false;
  bool ok = each_record(outer.p, outer.n, {SC_ARCH, SC_RULE, SC_LISTENER_STATE}, [&](const Rec& r) {
    std::string s;
    switch (r.tag) {
      case SC_DEFAULT_ACTION:
        has_default = true;
        if (!u32(r, &sc.default_action)) return false;
        return known_action(sc.default_action) || bad("unknown seccomp action", r.tag);
      case SC_ARCH:
        if (!str(r, &s)) return false;
        sc.arches.push_back(std::move(s));
        return true;
      case SC_FLAGS: return u32(r, &sc.flags);
      case SC_RULE: return decode_rule(r, &sc);
      case SC_LISTENER_PATH:
        if (!str(r, &sc.listener_path)) return false;
        return (!sc.listener_path.empty() && sc.listener_path[0] == '/') || bad("listener path is not absolute", r.tag);
      case SC_LISTENER_STATE:
        if (!str(r, &s)) return false;
        sc.listener_state.push_back(std::move(s));
        return true;
      case SC_CACHE_DIR:
        if (!str(r, &sc.cache_dir)) return false;
        return (!sc.cache_dir.empty() && sc.cache_dir[0] == '/') || bad("cache dir is not absolute", r.tag);
      case SC_CACHE_KEY:
        if (!str(r, &sc.cache_key)) return false;
        // One plain file name: hex digits only.
        return (!sc.cache_key.empty() && sc.cache_key.size() <= 128 &&
                sc.cache_key.find_first_not_of("0123456789abcdef") == std::string::npos) || bad("bad cache key", r.tag);
      default: return bad("unknown tag in seccomp", r.tag);
    }
  });
  if (!ok) return false;
  if (!has_default) return bad("seccomp without a default action", outer.tag);
  if (sc.listener_path.empty() != sc.listener_state.empty()) return bad("seccomp listener path without state", outer.tag);
  if (sc.cache_dir.empty() != sc.cache_key.empty()) return bad("seccomp cache dir without key", outer.tag);
  p->has_seccomp = true;
  return true;
}

}  // namespace

bool is_process_attr_tag(uint16_t tag) { return tag >= P_SECCOMP && tag <= P_PERSONALITY; }

bool decode_process_attr(uint16_t tag, const uint8_t* payload, uint32_t length, Process* p) {
  Rec r{tag, payload, length};
  switch (tag) {
    case P_SECCOMP: return decode_seccomp(r, p);
    case P_APPARMOR:
      if (!str(r, &p->apparmor_profile)) return false;
      return !p->apparmor_profile.empty() || bad("empty AppArmor profile", tag);
    case P_SCHEDULER: {
      if (r.n != 48) return bad("expected 48-byte scheduler", tag);
      Scheduler& s = p->scheduler;
      uint32_t zero;
      memcpy(&s.policy, r.p, 4);
      memcpy(&s.nice, r.p + 4, 4);
      memcpy(&s.priority, r.p + 8, 4);
      memcpy(&zero, r.p + 12, 4);
      memcpy(&s.flags, r.p + 16, 8);
      memcpy(&s.runtime, r.p + 24, 8);
      memcpy(&s.deadline, r.p + 32, 8);
      memcpy(&s.period, r.p + 40, 8);
      if (zero != 0) return bad("nonzero reserved field", tag);
      p->has_scheduler = true;
      return true;
    }
    case P_IOPRIO: p->has_ioprio = true; return u32(r, &p->ioprio);
    case P_AFFINITY_INITIAL: return cpu_mask(r, &p->affinity_initial);
    case P_AFFINITY_FINAL: return cpu_mask(r, &p->affinity_final);
    case P_PERSONALITY: p->has_personality = true; return u32(r, &p->personality);
  }
  return bad("unknown tag in process", tag);
}

}  // namespace ocirun::init
