import type { Request } from 'express';
import { OciError } from '../oci/errors.js';

/**
 * How much of an oversize body is still read (and dropped) before answering 413: clients that upload
 * the whole body before reading the answer then get the 413 instead of a reset connection.
 */
const DRAIN_LIMIT = 16 * 1024 * 1024;

/** Reads a small request body (a manifest) into memory, refusing more than `limit` bytes. */
export async function readSmallBody(req: Request, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit + DRAIN_LIMIT) {
    // Not worth draining: node:http discards what arrives while the error is sent.
    req.resume();
    throw tooLarge(limit);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    // Leaving the loop destroys the request stream; the error handler then closes the connection.
    if (total > limit + DRAIN_LIMIT) throw tooLarge(limit);
    if (total <= limit) chunks.push(chunk);
  }
  if (total > limit) throw tooLarge(limit);
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
