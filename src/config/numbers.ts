// JSON numbers arrive as doubles. 64-bit fields such as rlimits are usually
// small or exactly "unlimited" (2^64-1), which JSON.parse rounds up to 2^64;
// these helpers map such values back to what the kernel expects.

const U64_MAX = (1n << 64n) - 1n;
const I64_MAX = (1n << 63n) - 1n;

/** uint64 config value -> bigint; 2^64 (the double for 2^64-1) becomes 2^64-1 (RLIM_INFINITY). */
export function toUint64(n: number): bigint {
  if (n >= 2 ** 64) return U64_MAX;
  if (n <= 0) return 0n;
  return BigInt(Math.trunc(n));
}

/** int64 config value -> bigint, clamping the rounded 2^63 back to 2^63-1. */
export function toInt64(n: number): bigint {
  if (n >= 2 ** 63) return I64_MAX;
  if (n <= -(2 ** 63)) return -(1n << 63n);
  return BigInt(Math.trunc(n));
}
