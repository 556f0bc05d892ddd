// The two visitors of the plan schema. plan_schema.cc describes each struct
// once, as a visit(V&, T&) template naming its fields; JsonReader runs that
// description over the parsed JSON (typing, checks and errors), JsonPrinter
// over the decoded struct (for --print-plan). So the reader and the printer
// cannot disagree, and the round-trip test compares TypeScript's names with
// this one description.
//
// Why rapidjson (Debian's rapidjson-dev): header-only, no exceptions or RTTI
// (this helper builds with -fno-exceptions -fno-rtti and links statically),
// exact 64-bit integers, and a parse far below the cost of a create.
#pragma once
#include <stdint.h>
#include <string.h>

#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace ocirun::init::schema {

using Json = rapidjson::Value;

// What a string must be, beyond valid UTF-8 without NUL bytes.
enum Check : unsigned { kAny = 0, kAbsolute = 1, kNonEmpty = 2 };

// Fields that travel as names ("createContainer") and live as numbers.
struct Name {
  const char* name;
  uint32_t value;
};

class JsonReader {
 public:
  bool ok() const { return ok_; }
  // The first failure, recorded with fail_msg: "plan: <path>: <what>".
  void error(const char* key, const std::string& what);

  // The top-level object.
  template <class F>
  void root(const Json& j, F&& body) { object(j, body); }

  template <class T>
  void req(const char* key, T& v, unsigned checks = kAny) {
    if (const Json* j = member(key)) field(key, *j, v, checks);
    else error(key, "missing");
  }
  // Absent: v keeps its default.
  template <class T>
  void opt(const char* key, T& v, unsigned checks = kAny) {
    if (const Json* j = member(key)) field(key, *j, v, checks);
  }
  template <class T>
  void opt(const char* key, T& v, bool& has, unsigned checks = kAny) {
    const Json* j = member(key);
    has = j != nullptr;
    if (j) field(key, *j, v, checks);
  }
  // An optional object whose fields body() reads into the current struct.
  template <class F>
  void obj(const char* key, bool& has, F&& body) {
    const Json* j = member(key);
    has = j != nullptr;
    if (!j) return;
    frames_.push_back({key, -1});
    object(*j, body);
    frames_.pop_back();
  }
  // A name from table, stored as its value.
  template <size_t N>
  void name(const char* key, uint32_t& v, const Name (&table)[N], bool& has) {
    const Json* j = member(key);
    has = j != nullptr;
    if (j) name_of(key, *j, v, table, N);
  }
  // A Buffer: lowercase hex of whole little-endian 64-bit words.
  void hex_words(const char* key, std::vector<uint64_t>& v, bool& has);
  void check(bool cond, const char* key, const char* what) {
    if (ok_ && !cond) error(key, what);
  }
  // The same for a field of element `index` of the array `key`.
  void check_at(bool cond, const char* key, size_t index, const char* sub, const char* what);

 private:
  struct Frame {
    const char* key;  // nullptr: an array element
    long index;
  };

  const Json* member(const char* key);
  void name_of(const char* key, const Json& j, uint32_t& v, const Name* table, size_t n);
  std::string path(const char* key) const;
  void type_error(const char* want) { error(nullptr, std::string("expected ") + want); }

  template <class F>
  void object(const Json& j, F& body) {
    if (!ok_) return;
    if (!j.IsObject()) return type_error("an object");
    const Json* outer = obj_;
    uint64_t outer_used = used_;
    unsigned outer_next = next_;
    obj_ = &j;
    used_ = 0;
    next_ = 0;
    // Each member gets one bit of used_; a plan struct has far fewer fields.
    if (j.MemberCount() > 64) error(nullptr, "too many fields");
    else body();
    unknown_fields();
    obj_ = outer;
    used_ = outer_used;
    next_ = outer_next;
  }
  void unknown_fields();

  template <class T>
  void field(const char* key, const Json& j, T& v, unsigned checks) {
    if (!ok_) return;
    frames_.push_back({key, -1});
    value(j, v, checks);
    frames_.pop_back();
  }

  void value(const Json& j, bool& v, unsigned);
  void value(const Json& j, int& v, unsigned);
  void value(const Json& j, uint32_t& v, unsigned);
  void value(const Json& j, uint64_t& v, unsigned);
  void value(const Json& j, int64_t& v, unsigned);
  void value(const Json& j, std::string& v, unsigned checks);
  template <class T>
  void value(const Json& j, std::vector<T>& v, unsigned checks) {
    if (!j.IsArray()) return type_error("an array");
    v.resize(j.Size());
    for (rapidjson::SizeType i = 0; i < j.Size() && ok_; i++) {
      frames_.push_back({nullptr, static_cast<long>(i)});
      value(j[i], v[i], checks);
      frames_.pop_back();
    }
  }
  // A plan struct: its visit() in plan_schema.cc, found by argument-dependent lookup.
  template <class T>
  void value(const Json& j, T& v, unsigned) {
    auto body = [&] { visit(*this, v); };
    object(j, body);
  }

  bool ok_ = true;
  const Json* obj_ = nullptr;
  uint64_t used_ = 0;
  unsigned next_ = 0;  // where member() starts looking
  std::vector<Frame> frames_;
};

class JsonPrinter {
 public:
  JsonPrinter() : w_(buf_) {}
  std::string text() const { return std::string(buf_.GetString(), buf_.GetSize()); }

  template <class F>
  void root(const Json*, F&& body) {
    w_.StartObject();
    body();
    w_.EndObject();
  }
  template <class T>
  void req(const char* key, T& v, unsigned = kAny) {
    w_.Key(key);
    value(v);
  }
  // Defaults are printed too; the round-trip test reads false and [] as absent.
  template <class T>
  void opt(const char* key, T& v, unsigned = kAny) { req(key, v); }
  template <class T>
  void opt(const char* key, T& v, bool& has, unsigned = kAny) {
    if (has) req(key, v);
  }
  template <class F>
  void obj(const char* key, bool& has, F&& body) {
    if (!has) return;
    w_.Key(key);
    w_.StartObject();
    body();
    w_.EndObject();
  }
  template <size_t N>
  void name(const char* key, uint32_t& v, const Name (&table)[N], bool& has) {
    if (!has) return;
    for (const Name& n : table)
      if (n.value == v) {
        w_.Key(key);
        w_.String(n.name);
      }
  }
  void hex_words(const char* key, std::vector<uint64_t>& v, bool& has);
  void check(bool, const char*, const char*) {}
  void check_at(bool, const char*, size_t, const char*, const char*) {}

 private:
  void value(bool v) { w_.Bool(v); }
  void value(int v) { w_.Int(v); }
  void value(uint32_t v) { w_.Uint(v); }
  void value(uint64_t v) { w_.Uint64(v); }
  void value(int64_t v) { w_.Int64(v); }
  void value(std::string& v) { w_.String(v.data(), static_cast<rapidjson::SizeType>(v.size())); }
  template <class T>
  void value(std::vector<T>& v) {
    w_.StartArray();
    for (auto& e : v) value(e);
    w_.EndArray();
  }
  template <class T>
  void value(T& v) {
    w_.StartObject();
    visit(*this, v);
    w_.EndObject();
  }

  rapidjson::StringBuffer buf_;
  rapidjson::Writer<rapidjson::StringBuffer> w_;
};

}  // namespace ocirun::init::schema
