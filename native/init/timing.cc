#include "init/timing.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/protocol.h"
#include "init/msg.h"

namespace ocirun::init {

bool g_timing = false;

namespace {

struct Entry {
  uint32_t phase;
  uint32_t zero;
  uint64_t ns;
};
static_assert(sizeof(Entry) == 16, "MSG_TIMING entries are 16 bytes");

// Stage 0 marks at most 5 phases, the init 7: a fixed array, no allocation.
Entry g_marks[16];
unsigned g_count = 0;

}  // namespace

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

void mark_at(uint32_t phase, uint64_t ns) {
  if (!g_timing || g_count == sizeof g_marks / sizeof g_marks[0]) return;
  g_marks[g_count++] = Entry{phase, 0, ns};
}

void mark(uint32_t phase) {
  if (g_timing) mark_at(phase, monotonic_ns());
}

void send_timing() {
  if (!g_timing || g_count == 0) return;
  char buf[sizeof(proto::RecordHeader) + sizeof g_marks];
  proto::RecordHeader h{proto::MSG_TIMING, 0, uint32_t(g_count * sizeof(Entry))};
  memcpy(buf, &h, sizeof h);
  memcpy(buf + sizeof h, g_marks, h.length);
  size_t len = sizeof h + h.length;
  // Under 300 bytes, sent while the other stage is silent (stage 0 before it
  // releases the init, the init before MSG_READY), so records never interleave.
  for (size_t off = 0; off < len;) {
    ssize_t n = send(kPlanFd, buf + off, len - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += size_t(n);
  }
  g_count = 0;
}

}  // namespace ocirun::init
