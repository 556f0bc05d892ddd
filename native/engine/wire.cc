// JSON for the engine socket's frames (engine/wire.h).
#include "engine/wire.h"

#include <stdio.h>

namespace ocirun::engine {

std::string JsonString(const std::string& s) {
  std::string o = "\"";
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    if (c == '"' || c == '\\') {
      o += '\\';
      o += char(c);
      i++;
    } else if (c < 0x20) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", c);
      o += esc;
      i++;
    } else if (c < 0x80) {
      o += char(c);
      i++;
    } else {
      // Validate one UTF-8 sequence.
      size_t len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
      bool ok = len > 0 && i + len <= n;
      for (size_t k = 1; ok && k < len; k++) ok = (p[i + k] & 0xc0) == 0x80;
      if (ok) {
        o.append(s, i, len);
        i += len;
      } else {
        o += "\\ufffd";
        i++;
      }
    }
  }
  return o + "\"";
}

}  // namespace ocirun::engine
