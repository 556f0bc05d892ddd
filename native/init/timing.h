// Phase timestamps for the plan's `timing` (see common/timing.h): collected in
// memory, sent as one MSG_TIMING record, so timing costs no syscall per mark
// beyond clock_gettime (a vDSO call).
#pragma once
#include <stdint.h>

namespace ocirun::init {

extern bool g_timing;

uint64_t monotonic_ns();
// Records CLOCK_MONOTONIC now (or at ns) for phase; does nothing unless g_timing.
void mark(uint32_t phase);
void mark_at(uint32_t phase, uint64_t ns);
// Sends the marks recorded so far as one MSG_TIMING and forgets them. A
// failure is ignored: timing must never change whether a container starts.
void send_timing();

}  // namespace ocirun::init
