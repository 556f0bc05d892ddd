// Reading nested plan records: the walker and typed field readers shared by the
// decoders that own the newer parts of the wire format (plan_ext.cc,
// plan_process_attrs.cc). Failures are reported through fail_msg like every
// plan error.
#pragma once
#include <errno.h>
#include <string.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "init/msg.h"

namespace ocirun::init::records {

inline bool bad(const char* what, unsigned tag) {
  return fail_msg(EINVAL, "", "", std::string("plan: ") + what + " (tag " + std::to_string(tag) + ")");
}

struct Rec {
  uint16_t tag;
  const uint8_t* p;
  uint32_t n;
};

// Walks one nested payload; each tag not in `repeatable` may appear once.
template <typename F>
bool each_record(const uint8_t* p, uint32_t n, std::initializer_list<uint16_t> repeatable, F fn) {
  const uint8_t* end = p + n;
  std::vector<uint16_t> seen;
  while (p != end) {
    proto::RecordHeader h;
    if (static_cast<size_t>(end - p) < sizeof h) return bad("truncated header", 0);
    memcpy(&h, p, sizeof h);
    p += sizeof h;
    if (h.zero != 0) return bad("nonzero reserved field", h.tag);
    if (h.length > static_cast<size_t>(end - p)) return bad("truncated payload", h.tag);
    bool rep = false;
    for (uint16_t t : repeatable) rep |= t == h.tag;
    if (!rep) {
      for (uint16_t t : seen)
        if (t == h.tag) return bad("duplicate record", h.tag);
      seen.push_back(h.tag);
    }
    if (!fn(Rec{h.tag, p, h.length})) return false;
    p += h.length;
  }
  return true;
}

inline bool u32(const Rec& r, uint32_t* v) {
  if (r.n != 4) return bad("expected u32", r.tag);
  memcpy(v, r.p, 4);
  return true;
}

inline bool str(const Rec& r, std::string* v) {
  if (memchr(r.p, 0, r.n)) return bad("NUL byte in string", r.tag);
  v->assign(reinterpret_cast<const char*>(r.p), r.n);
  return true;
}

inline bool flag(const Rec& r, bool* v) {
  if (r.n != 0) return bad("flag with payload", r.tag);
  *v = true;
  return true;
}

}  // namespace ocirun::init::records
