// Seeded random mutations of a config, shared by the validator fuzz test and
// the CLI fuzz test. Same seed, same sequence: a failure prints its seed.

export function rng(seed: number): () => number {
  // mulberry32: tiny, fast, good enough to spread mutations.
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WEIRD: unknown[] = [
  null, true, false, 0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308, '', ' ', '..', '/', '../../etc', 'a\u0000b',
  'x'.repeat(5000), [], {}, [null], { '': 1 }, { __proto__: { polluted: 1 } }, ['sh'], '/proc/self/ns/net',
  'bind', 'rbind', 'nosuid', 'CAP_SYS_ADMIN', 'RLIMIT_NOFILE', 'SCMP_ACT_ALLOW', 'user', 'pid', 4294967296,
];

type Json = unknown;

/** A fresh copy each time, so no value is shared and no cycle can form. */
function weird(rand: () => number): Json {
  const v = WEIRD[Math.floor(rand() * WEIRD.length)];
  return v !== null && typeof v === 'object' ? JSON.parse(JSON.stringify(v)) : v;
}

function paths(v: Json, prefix: Array<string | number> = [], out: Array<Array<string | number>> = []) {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) paths((v as Record<string, Json>)[k], [...prefix, k], out);
  return out;
}

function parentOf(root: Json, path: Array<string | number>): [Record<string | number, Json>, string | number] | undefined {
  if (path.length === 0) return undefined;
  let cur = root as Record<string | number, Json>;
  for (const p of path.slice(0, -1)) cur = cur[p] as Record<string | number, Json>;
  return [cur, path[path.length - 1]];
}

/** Applies 1-3 random mutations to a deep copy of spec. */
export function mutate<T>(spec: T, rand: () => number): T {
  const copy = JSON.parse(JSON.stringify(spec)) as Json;
  const n = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < n; i++) {
    const all = paths(copy).filter((p) => p.length > 0);
    const target = all[Math.floor(rand() * all.length)];
    const pc = parentOf(copy, target);
    if (!pc) continue;
    const [parent, key] = pc;
    const pick = rand();
    if (pick < 0.3) {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else if (pick < 0.7) {
      parent[key] = weird(rand);
    } else if (pick < 0.85 && Array.isArray(parent)) {
      parent.push(JSON.parse(JSON.stringify(parent[Number(key)] ?? null)));
    } else {
      parent[`unknown${Math.floor(rand() * 100)}`] = weird(rand);
    }
  }
  return copy as T;
}
