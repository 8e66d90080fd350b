import type { IncomingMessage } from 'node:http';
import { OciError } from '../oci/errors.js';

/** Reads a small upstream body (manifest, token, listing), refusing more than `limit` bytes. */
export async function readLimited(res: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    res.destroy();
    throw new OciError('UNAVAILABLE', `upstream response of ${declared} bytes exceeds the ${limit}-byte limit`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      res.destroy();
      throw new OciError('UNAVAILABLE', `upstream response exceeds the ${limit}-byte limit`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}
