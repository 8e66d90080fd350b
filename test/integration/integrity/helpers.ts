import { readFile, readdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { sha256 } from '../../helpers/push.js';

/** Flips one byte of a file in place (bit rot while the server was stopped, or under its feet). */
export async function flipByte(path: string, at?: number): Promise<void> {
  const bytes = await readFile(path);
  const i = at ?? Math.floor(bytes.length / 2);
  bytes[i] = bytes[i]! ^ 0xff;
  await writeFile(path, bytes);
}

/** Files in <dataDir>/quarantine/ (empty when there is none). */
export async function quarantined(dataDir: string): Promise<string[]> {
  return readdir(join(dataDir, 'quarantine')).catch(() => []);
}

export async function waitFor(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * GETs a blob over a raw connection and reports what really arrived: the status, the byte count,
 * whether the response ended cleanly, and whether the bytes hash to `digest`.
 */
export function download(url: string, digest: string, headers: Record<string, string> = {}): Promise<{ status: number; bytes: number; complete: boolean; intact: boolean }> {
  return new Promise((resolve) => {
    const req = request(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const finish = (complete: boolean) => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, bytes: body.length, complete, intact: sha256(body) === digest });
      };
      res.on('end', () => finish(res.complete));
      res.on('error', () => finish(false));
      res.on('close', () => finish(res.complete));
    });
    req.on('error', () => resolve({ status: 0, bytes: 0, complete: false, intact: false }));
    req.end();
  });
}
