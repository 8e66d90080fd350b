import type { Request } from 'express';
import { OciError } from '../oci/errors.js';

/** Reads a small request body (a manifest) into memory, refusing more than `limit` bytes. */
export async function readSmallBody(req: Request, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw tooLarge(limit);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      req.resume();
      throw tooLarge(limit);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

export function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

function tooLarge(limit: number): OciError {
  return new OciError('SIZE_INVALID', `manifest exceeds the ${limit}-byte limit`, { status: 413 });
}
