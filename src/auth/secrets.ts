import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { compare, hash } from 'bcryptjs';

/** Access tokens start with this, so a Basic password can be told apart from a token without a lookup. */
export const TOKEN_PREFIX = 'rgt_';

export function newTokenSecret(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function newTokenId(): string {
  return randomBytes(6).toString('hex');
}

export function newPassword(): string {
  return randomBytes(18).toString('base64url');
}

export function isTokenSecret(value: string): boolean {
  return value.startsWith(TOKEN_PREFIX) && value.length > TOKEN_PREFIX.length + 20;
}

/**
 * Tokens carry 256 random bits, so a fast hash is enough (as GitHub does) and a Basic request with a
 * token costs no bcrypt round; passwords are chosen by people and get bcrypt.
 */
export function hashTokenSecret(secret: string): string {
  return `sha256:${createHash('sha256').update(secret).digest('hex')}`;
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function hashPassword(password: string, cost = 10): Promise<string> {
  return hash(password, cost);
}

// A real hash of a random string: checking an unknown user costs as much as checking a known one.
const DUMMY_HASH = '$2b$10$4YuWFTfU/YURVdvLUELg4.SF4P0QRisVP.jNBWh.QMVDRfLceXK6e';

export async function verifyPassword(password: string, passwordHash: string | undefined): Promise<boolean> {
  if (passwordHash === undefined) {
    await compare(password, DUMMY_HASH).catch(() => false);
    return false;
  }
  // htpasswd writes $2y$, which bcryptjs reads as $2b$ (same algorithm, different tag).
  const normalized = passwordHash.startsWith('$2y$') ? `$2b$${passwordHash.slice(4)}` : passwordHash;
  try {
    return await compare(password, normalized);
  } catch {
    return false;
  }
}
