import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseByteSize } from '../../../src/config/lifecycle-schema.js';
import { loadConfig, parseConfig } from '../../../src/config/load.js';

const DEFAULT_YAML = fileURLToPath(new URL('../../../config/default.yaml', import.meta.url));

describe('lifecycle settings', () => {
  it('config/default.yaml documents them with the built-in defaults', async () => {
    const c = await loadConfig({ file: DEFAULT_YAML });
    expect(c.storage.gc).toEqual({ intervalSeconds: 3600, graceSeconds: 3600, deletesPerSecond: 0 });
    expect(c.storage.trashDays).toBe(30);
    expect(c.cache.maxBytes).toBeUndefined();
    expect([c.cache.highWatermark, c.cache.lowWatermark]).toEqual([0.95, 0.85]);
    expect(parseConfig({}).storage.trashDays).toBe(30);
  });

  it('cache.maxBytes takes units, from the file or the environment; bad sizes and watermarks fail at start', async () => {
    expect(parseByteSize('50GiB')).toBe(50 * 2 ** 30);
    expect(parseByteSize('500 MB')).toBe(500e6);
    expect(parseByteSize('1.5KiB')).toBe(1536);
    expect(parseByteSize(1048576)).toBe(1048576);
    expect(parseByteSize('12 potatoes')).toBeUndefined();
    expect((await loadConfig({ env: { REGISTRY_CACHE__MAX_BYTES: '50GiB', REGISTRY_STORAGE__GC__INTERVAL_SECONDS: '0' } })).cache.maxBytes).toBe(50 * 2 ** 30);
    expect(() => parseConfig({ cache: { maxBytes: '12 potatoes' } })).toThrow(/cache.maxBytes: not a byte size/);
    expect(() => parseConfig({ cache: { highWatermark: 0.5, lowWatermark: 0.9 } })).toThrow(/lowWatermark/);
    expect(() => parseConfig({ storage: { gc: { nope: 1 } } })).toThrow(/storage.gc/);
  });
});
