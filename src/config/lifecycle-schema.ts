import { z } from 'zod';

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };

/** "50GiB", "500 MB", "1048576" → bytes; undefined for anything else. */
export function parseByteSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) return undefined;
  const bytes = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A byte count given as a number or with a unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB). */
export const byteSize = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const bytes = parseByteSize(v);
  if (bytes === undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not a byte size: ${String(v)} (use e.g. 50GiB, 500MB, 1048576)` });
    return z.NEVER;
  }
  return bytes;
});

/** storage.gc: the online mark-and-sweep (issue 11). */
export const gcSchema = z
  .object({
    intervalSeconds: z.coerce.number().int().nonnegative().default(3600).describe('Run garbage collection this often; 0 = only on demand (registry-admin gc)'),
    graceSeconds: z.coerce
      .number()
      .int()
      .nonnegative()
      .default(3600)
      .describe('Unreferenced blobs younger than this survive (pushed blobs wait for their manifest)'),
    deletesPerSecond: z.coerce.number().nonnegative().default(0).describe('Pace of blob deletions by GC and eviction, to spare a busy disk; 0 = as fast as it goes'),
  })
  .strict();

/** The cache byte cap and last-use tracking, merged into the `cache` section. */
export const cacheLifecycleShape = {
  maxBytes: byteSize.optional().describe('Cap on bytes of cached (mirrored) content, e.g. 50GiB; unset = no cap'),
  highWatermark: z.coerce.number().gt(0).lte(1).default(0.95).describe('Eviction starts when cached bytes exceed maxBytes × this'),
  lowWatermark: z.coerce.number().gt(0).lte(1).default(0.85).describe('Eviction stops when cached bytes are under maxBytes × this'),
  maxIdleDays: z.coerce.number().positive().optional().describe('Cached images not pulled for this many days are evicted, cap or not'),
  evictionIntervalSeconds: z.coerce.number().positive().default(30).describe('How often cached usage is checked against the cap'),
  lastUseFlushSeconds: z.coerce.number().positive().default(30).describe('Last-use records are batched in memory and written this often'),
};
