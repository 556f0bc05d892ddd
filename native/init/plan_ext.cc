// Decoder for the hook records (170-178) and the mount extensions (25-29):
// the hooks the init runs itself and id-mapped / copy-up mounts. Kept apart
// from plan.cc like plan_process_attrs.cc, so each concern owns its format.
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>

#include <initializer_list>

#include "common/protocol.h"
#include "init/msg.h"
#include "init/plan.h"
#include "init/plan_records.h"

namespace ocirun::init {

using namespace ocirun::proto;

namespace {

using namespace records;

bool idmap(const Rec& r, std::vector<IdMap>* out) {
  if (r.n != 12) return bad("expected 12-byte id mapping", r.tag);
  IdMap m;
  memcpy(&m, r.p, 12);
  if (m.size == 0) return bad("empty id mapping", r.tag);
  out->push_back(m);
  return true;
}

bool decode_hook(const Rec& outer, Plan* plan) {
  Hook h;
  bool has_kind = false;
  bool ok = each_record(outer.p, outer.n, {H_ARG, H_ENV}, [&](const Rec& r) {
    std::string s;
    switch (r.tag) {
      case H_KIND: has_kind = true; return u32(r, &h.kind);
      case H_PATH: return str(r, &h.path);
      case H_ARG: if (!str(r, &s)) return false; h.args.push_back(std::move(s)); return true;
      case H_ENV: if (!str(r, &s)) return false; h.env.push_back(std::move(s)); return true;
      case H_TIMEOUT: return u32(r, &h.timeout) && (h.timeout > 0 || bad("zero hook timeout", r.tag));
      default: return bad("unknown tag in hook", r.tag);
    }
  });
  if (!ok) return false;
  if (!has_kind || (h.kind != HOOK_CREATE_CONTAINER && h.kind != HOOK_START_CONTAINER))
    return bad("hook without a known kind", H_KIND);
  if (h.path.empty() || h.path[0] != '/') return bad("hook path is not absolute", H_PATH);
  plan->hooks.push_back(std::move(h));
  return true;
}

bool state_piece(const Rec& r, std::vector<std::string>* pieces) {
  std::string s;
  if (!str(r, &s)) return false;
  if (pieces->size() == 2) return bad("more than two hook state pieces", r.tag);
  pieces->push_back(std::move(s));
  return true;
}

bool has_kind(const Plan& p, uint32_t kind) {
  for (const auto& h : p.hooks)
    if (h.kind == kind) return true;
  return false;
}

}  // namespace

bool is_plan_ext_tag(uint16_t tag) { return tag >= PLAN_HOOKS_PAUSE && tag <= PLAN_HOOK_STATE_START; }

bool decode_plan_ext(uint16_t tag, const uint8_t* payload, uint32_t length, Plan* p) {
  Rec r{tag, payload, length};
  switch (tag) {
    case PLAN_HOOKS_PAUSE: return flag(r, &p->hooks_pause);
    case PLAN_HOOK: return decode_hook(r, p);
    case PLAN_HOOK_STATE_CREATE: return state_piece(r, &p->hook_state_create);
    case PLAN_HOOK_STATE_START: return state_piece(r, &p->hook_state_start);
    default: return bad("hook field outside a hook", tag);
  }
}

bool is_mount_ext_tag(uint16_t tag) { return tag >= M_IDMAP && tag <= M_COPYUP; }

bool decode_mount_ext(uint16_t tag, const uint8_t* payload, uint32_t length, Mount* m) {
  Rec r{tag, payload, length};
  switch (tag) {
    case M_IDMAP: return flag(r, &m->idmap);
    case M_RIDMAP: return flag(r, &m->ridmap);
    case M_UID_MAP: return idmap(r, &m->uid_maps);
    case M_GID_MAP: return idmap(r, &m->gid_maps);
    case M_COPYUP: return flag(r, &m->copyup);
    default: return bad("unknown tag in mount", tag);
  }
}

bool validate_plan_ext(const Plan& p) {
  if (has_kind(p, HOOK_CREATE_CONTAINER) && p.hook_state_create.size() != 2)
    return bad("createContainer hooks without their state", PLAN_HOOK_STATE_CREATE);
  if (has_kind(p, HOOK_START_CONTAINER) && p.hook_state_start.size() != 2)
    return bad("startContainer hooks without their state", PLAN_HOOK_STATE_START);
  for (const auto& m : p.mounts) {
    bool mapped = m.idmap || m.ridmap;
    if (m.idmap && m.ridmap) return bad("mount is both idmap and ridmap", M_RIDMAP);
    if (!mapped && (!m.uid_maps.empty() || !m.gid_maps.empty()))
      return bad("mount id mappings without idmap", M_UID_MAP);
    if (m.uid_maps.empty() != m.gid_maps.empty()) return bad("mount needs both uid and gid mappings", M_GID_MAP);
    // Without mappings of its own the mount takes the container's user namespace.
    if (mapped && m.uid_maps.empty() && !p.has_namespace(CLONE_NEWUSER))
      return bad("idmap mount without mappings or a user namespace", M_IDMAP);
    if (mapped && (!(m.flags & MS_BIND) || m.mkdir_only || m.has_symlink))
      return bad("idmap on something other than a bind mount", M_IDMAP);
    if (m.copyup && (m.type != "tmpfs" || m.mkdir_only || m.has_symlink))
      return bad("copy-up on something other than a tmpfs", M_COPYUP);
  }
  return true;
}

}  // namespace ocirun::init
