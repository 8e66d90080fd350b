import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { checkPasswordHash, hashScrypt } from './password-hash.js';

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

/** New password hashes are scrypt (password-hash.ts); `logN` lowers the cost in tests. */
export async function hashPassword(password: string, logN?: number): Promise<string> {
  return hashScrypt(password, logN);
}

// A real hash of a random string: checking an unknown user costs as much as checking a known one.
const DUMMY_HASH = '$scrypt$ln=15,r=8,p=1$nhJ26rjRo+7OSoF37wjiEQ==$xQ5s63ohw/rDThXPD7QfFwyIYW9ErwqoWzdhMieQlNs=';

export async function verifyPassword(password: string, passwordHash: string | undefined): Promise<boolean> {
  if (passwordHash === undefined) {
    await checkPasswordHash(password, DUMMY_HASH).catch(() => false);
    return false;
  }
  try {
    return await checkPasswordHash(password, passwordHash);
  } catch {
    return false;
  }
}
