// JsonReader and JsonPrinter (plan_json.h), and reading the plan's bytes.
#include "init/plan_json.h"

#include <errno.h>
#include <unistd.h>

#include "common/protocol.h"
#include "init/msg.h"
#include "init/plan.h"

namespace ocirun::init {

namespace schema {

std::string JsonReader::path(const char* key) const {
  std::string out;
  for (const Frame& f : frames_) {
    if (f.key) {
      if (!out.empty()) out += '.';
      out += f.key;
    } else {
      out += '[' + std::to_string(f.index) + ']';
    }
  }
  if (key) {
    if (!out.empty()) out += '.';
    out += key;
  }
  return out;
}

void JsonReader::error(const char* key, const std::string& what) {
  if (!ok_) return;
  ok_ = false;
  std::string where = path(key);
  fail_msg(EINVAL, "", "", "plan: " + (where.empty() ? what : where + ": " + what));
}

void JsonReader::check_at(bool cond, const char* key, size_t index, const char* sub, const char* what) {
  if (!ok_ || cond) return;
  frames_.push_back({key, -1});
  frames_.push_back({nullptr, static_cast<long>(index)});
  error(sub, what);
  frames_.pop_back();
  frames_.pop_back();
}

static bool same(const Json& name, const char* key, size_t len) {
  return name.GetStringLength() == len && memcmp(name.GetString(), key, len) == 0;
}

const Json* JsonReader::member(const char* key) {
  if (!ok_) return nullptr;
  size_t len = strlen(key);
  unsigned n = obj_->MemberCount();
  // From the member after the last one found: the encoder writes the fields in
  // the order visit() asks for them, so this usually looks at one name.
  for (unsigned k = 0; k < n; k++) {
    unsigned i = (next_ + k) % n;
    const auto& m = obj_->MemberBegin()[i];
    if (!same(m.name, key, len)) continue;
    used_ |= 1ull << i;
    next_ = i + 1;
    return &m.value;
  }
  return nullptr;
}

// Whatever visit() did not ask for is a field this helper does not know: a
// planner newer than the helper, or a typo. Either way, not something to skip.
void JsonReader::unknown_fields() {
  if (!ok_) return;
  unsigned i = 0;
  for (auto m = obj_->MemberBegin(); m != obj_->MemberEnd(); ++m, ++i) {
    if (used_ & (1ull << i)) continue;
    std::string key(m->name.GetString(), m->name.GetStringLength());
    bool twice = false;
    for (auto e = obj_->MemberBegin(); e != m; ++e) twice |= same(e->name, key.data(), key.size());
    return error(key.c_str(), twice ? "duplicate field" : "unknown field");
  }
}

void JsonReader::name_of(const char* key, const Json& j, uint32_t& v, const Name* table, size_t n) {
  frames_.push_back({key, -1});
  if (!j.IsString()) {
    type_error("a string");
  } else {
    size_t i = 0;
    while (i < n && !same(j, table[i].name, strlen(table[i].name))) i++;
    if (i < n) v = table[i].value;
    else error(nullptr, std::string("unknown value \"") + j.GetString() + '"');
  }
  frames_.pop_back();
}

void JsonReader::value(const Json& j, bool& v, unsigned) {
  if (!j.IsBool()) return type_error("a boolean");
  v = j.GetBool();
}
void JsonReader::value(const Json& j, int& v, unsigned) {
  if (!j.IsInt()) return type_error("a 32-bit integer");
  v = j.GetInt();
}
void JsonReader::value(const Json& j, uint32_t& v, unsigned) {
  if (!j.IsUint()) return type_error("an unsigned 32-bit integer");
  v = j.GetUint();
}
void JsonReader::value(const Json& j, uint64_t& v, unsigned) {
  if (!j.IsUint64()) return type_error("an unsigned 64-bit integer");
  v = j.GetUint64();
}
void JsonReader::value(const Json& j, int64_t& v, unsigned) {
  if (!j.IsInt64()) return type_error("a 64-bit integer");
  v = j.GetInt64();
}

// The one string reader: every path in the plan is checked here.
void JsonReader::value(const Json& j, std::string& v, unsigned checks) {
  if (!j.IsString()) return type_error("a string");
  v.assign(j.GetString(), j.GetStringLength());
  // The helper hands these to syscalls as C strings.
  if (v.find('\0') != std::string::npos) return error(nullptr, "NUL byte in string");
  if ((checks & kNonEmpty) && v.empty()) return error(nullptr, "empty");
  if ((checks & kAbsolute) && (v.empty() || v[0] != '/')) return error(nullptr, "not an absolute path");
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

void JsonReader::hex_words(const char* key, std::vector<uint64_t>& v, bool& has) {
  const Json* j = member(key);
  has = j != nullptr;
  if (!j) return;
  frames_.push_back({key, -1});
  std::string s;
  value(*j, s, kAny);
  if (ok_ && (s.empty() || s.size() % 16 != 0)) error(nullptr, "expected hex of whole 64-bit words");
  if (ok_) {
    v.assign(s.size() / 16, 0);
    uint8_t* out = reinterpret_cast<uint8_t*>(v.data());
    for (size_t i = 0; ok_ && i < s.size() / 2; i++) {
      int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
      if (hi < 0 || lo < 0) error(nullptr, "expected lowercase hex");
      out[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
  }
  frames_.pop_back();
}

void JsonPrinter::hex_words(const char* key, std::vector<uint64_t>& v, bool& has) {
  if (!has) return;
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  const uint8_t* p = reinterpret_cast<const uint8_t*>(v.data());
  for (size_t i = 0; i < v.size() * 8; i++) {
    s += kDigits[p[i] >> 4];
    s += kDigits[p[i] & 15];
  }
  w_.Key(key);
  value(s);
}

}  // namespace schema

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
  using proto::RecordHeader;
  RecordHeader h{};
  if (!read_full(fd, reinterpret_cast<uint8_t*>(&h), sizeof h))
    return fail(errno ? errno : EPROTO, "read", "", "read plan");
  if (h.tag == proto::PLAN_ENVELOPE) {
    // The addon's form: the socket stays open, so the length says where the plan ends.
    if (h.nfds != 0 || h.length > proto::kMaxPlanBytes) return fail(E2BIG, "read", "", "plan too large");
    out->resize(h.length);
    if (!read_full(fd, out->data(), h.length)) return fail(errno ? errno : EPROTO, "read", "", "read plan");
    return true;
  }
  // Bare JSON ended by EOF (--print-plan): the bytes just read are its start.
  out->resize(64 * 1024);
  memcpy(out->data(), &h, sizeof h);
  size_t used = sizeof h;
  for (;;) {
    if (used == out->size()) {
      if (out->size() > proto::kMaxPlanBytes) return fail(E2BIG, "read", "", "plan too large");
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
  if (used > proto::kMaxPlanBytes) return fail(E2BIG, "read", "", "plan too large");
  out->resize(used);
  return true;
}

}  // namespace ocirun::init
