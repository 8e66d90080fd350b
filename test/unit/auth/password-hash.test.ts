import { hashSync } from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { checkPasswordHash, fitsBcrypt, hashScrypt, isScryptHash } from '../../../src/auth/password-hash.js';
import { hashPassword, verifyPassword } from '../../../src/auth/secrets.js';

/** Issue 10, item 7: two different passwords never match one hash. */
describe('password hashes', () => {
  it('scrypt reads every byte: a shared 72-byte prefix with another tail does not match', async () => {
    const long = `${'a'.repeat(72)}-the-real-tail`;
    const hash = await hashScrypt(long, 10);
    expect(isScryptHash(hash)).toBe(true);
    expect(await checkPasswordHash(long, hash)).toBe(true);
    expect(await checkPasswordHash(`${'a'.repeat(72)}-another-tail`, hash)).toBe(false);
    expect(await checkPasswordHash('a'.repeat(72), hash)).toBe(false);
  });

  it('bcrypt (legacy) accepts only passwords it reads whole: ≤ 72 bytes, no NUL', async () => {
    const p72 = 'é'.repeat(36); // 72 UTF-8 bytes
    const hash = hashSync(p72, 4);
    expect(await checkPasswordHash(p72, hash)).toBe(true);
    expect(await checkPasswordHash(`${p72}x`, hash)).toBe(false);
    expect(fitsBcrypt(`${p72}x`)).toBe(false);
    expect(fitsBcrypt('a\0b')).toBe(false);
    const htpasswd = hashSync('short-password', 4).replace(/^\$2[ab]\$/, '$2y$');
    expect(await checkPasswordHash('short-password', htpasswd)).toBe(true);
  });

  it('new hashes are scrypt; unknown formats and a missing hash never match', async () => {
    expect(await hashPassword('correct horse', 10)).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$/);
    expect(await verifyPassword('x', 'md5$whatever')).toBe(false);
    expect(await verifyPassword('x', undefined)).toBe(false);
    // A hand-edited hash asking for absurd parameters is refused, not computed.
    expect(await checkPasswordHash('x', '$scrypt$ln=30,r=8,p=1$AAAA$AAAA')).toBe(false);
  });
});
