import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startFlags } from '../../bench/servers.js';

const ROOT = new URL('../..', import.meta.url).pathname;

/** `npm start`, the container image and the benches must run the server with the same node flags. */
describe('node flags of the server', () => {
  it('npm start caps the young generation, and the Dockerfile runs the same flags', () => {
    const flags = startFlags();
    expect(flags).toContain('--max-semi-space-size=4');
    const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(`${ROOT}Dockerfile`, 'utf8'));
    const args = JSON.parse(cmd![1]!) as string[];
    expect(args).toEqual(['node', ...flags, 'dist/main.js']);
  });
});
