import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { DigestingStream, digestOf, digestParts, isDigest, parseDigest } from '../../../src/oci/digest.js';
import { isOciError } from '../../../src/oci/errors.js';

const HEX64 = 'a'.repeat(64);
const HEX128 = 'b'.repeat(128);

describe('parseDigest', () => {
  it.each([`sha256:${HEX64}`, `sha512:${HEX128}`, `sha256:${'0123456789abcdef'.repeat(4)}`])('accepts %s', (d) => {
    expect(parseDigest(d)).toBe(d);
    expect(isDigest(d)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['no algorithm', HEX64],
    ['uppercase hex', `sha256:${'A'.repeat(64)}`],
    ['uppercase algorithm', `SHA256:${HEX64}`],
    ['short sha256', `sha256:${'a'.repeat(63)}`],
    ['long sha256', `sha256:${'a'.repeat(65)}`],
    ['sha512 with sha256 length', `sha512:${HEX64}`],
    ['sha256 with sha512 length', `sha256:${HEX128}`],
    ['unknown algorithm', `md5:${'a'.repeat(32)}`],
    ['non-hex', `sha256:${'g'.repeat(64)}`],
    ['path traversal', `sha256:../../${'a'.repeat(58)}`],
    ['trailing newline', `sha256:${HEX64}\n`],
  ])('rejects %s with DIGEST_INVALID', (_label, d) => {
    expect(isDigest(d)).toBe(false);
    let caught: unknown;
    try {
      parseDigest(d);
    } catch (err) {
      caught = err;
    }
    expect(isOciError(caught, 'DIGEST_INVALID')).toBe(true);
  });

  it('splits algorithm and hex', () => {
    expect(digestParts(parseDigest(`sha512:${HEX128}`))).toEqual({ algorithm: 'sha512', hex: HEX128 });
  });
});

describe('hashing', () => {
  const data = Buffer.from('hello registry');

  it('digestOf computes sha256 and sha512 like node:crypto', () => {
    expect(digestOf(data)).toBe(`sha256:${createHash('sha256').update(data).digest('hex')}`);
    expect(digestOf(data, 'sha512')).toBe(`sha512:${createHash('sha512').update(data).digest('hex')}`);
    expect(isDigest(digestOf(data, 'sha512'))).toBe(true);
  });

  it.each(['sha256', 'sha512'] as const)('DigestingStream hashes and counts a multi-chunk stream (%s)', async (alg) => {
    const chunks = [Buffer.from('hello '), Buffer.from('regis'), Buffer.from('try')];
    const hasher = new DigestingStream(alg);
    const out: Buffer[] = [];
    await pipeline(Readable.from(chunks), hasher, async function* (source) {
      for await (const c of source) out.push(c as Buffer);
    });
    expect(Buffer.concat(out)).toEqual(data);
    expect(hasher.bytes).toBe(data.length);
    expect(hasher.digest()).toBe(digestOf(data, alg));
  });
});
