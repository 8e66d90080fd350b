import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { compare } from 'bcryptjs';

/**
 * Password hashes. New hashes are scrypt from node:crypto, which reads every byte of the password and runs on
 * libuv's thread pool (bcryptjs runs on the event loop). Format, PHC-like, parameters kept with the hash so a
 * later raise of the cost keeps old hashes working: `$scrypt$ln=15,r=8,p=1$<salt b64>$<key b64>`.
 *
 * bcrypt hashes (htpasswd files, config passwordHash, stores written before) keep working, with one rule:
 * bcrypt ignores every byte after the 72nd (and C implementations stop at a NUL byte), so two passwords that
 * share their first 72 bytes would both match. A password longer than 72 bytes, or with a NUL byte, is
 * therefore never accepted against a bcrypt hash: a user whose real password is that long must be re-created
 * (`registry-admin user add` now writes scrypt, which has no such limit).
 */
export const BCRYPT_MAX_BYTES = 72;

const SCRYPT_PREFIX = '$scrypt$';
const KEY_BYTES = 32;
/** ln=15 (N=32768), r=8: 32 MiB and ~50–100 ms per check on this kind of machine. */
const DEFAULT_LOG_N = 15;

function derive(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const options: ScryptOptions = { N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r * p + 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashScrypt(password: string, logN = DEFAULT_LOG_N): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, logN, 8, 1);
  return `${SCRYPT_PREFIX}ln=${logN},r=8,p=1$${salt.toString('base64')}$${key.toString('base64')}`;
}

export function isBcryptHash(hash: string): boolean {
  return /^\$2[abxy]?\$\d{2}\$/.test(hash);
}

export function isScryptHash(hash: string): boolean {
  return parseScrypt(hash) !== undefined;
}

/** True when bcrypt would see the whole password: at most 72 UTF-8 bytes and no NUL. */
export function fitsBcrypt(password: string): boolean {
  return Buffer.byteLength(password, 'utf8') <= BCRYPT_MAX_BYTES && !password.includes('\0');
}

export async function checkPasswordHash(password: string, hash: string): Promise<boolean> {
  const s = parseScrypt(hash);
  if (s) {
    const key = await derive(password, s.salt, s.logN, s.r, s.p);
    return key.length === s.key.length && timingSafeEqual(key, s.key);
  }
  if (isBcryptHash(hash)) {
    // htpasswd writes $2y$, which bcryptjs reads as $2b$ (same algorithm, different tag).
    const normalized = hash.startsWith('$2y$') ? `$2b$${hash.slice(4)}` : hash;
    // Still costs a bcrypt round, so a long password takes as long to refuse as a wrong one.
    const match = await compare(password, normalized).catch(() => false);
    return match && fitsBcrypt(password);
  }
  return false;
}

function parseScrypt(hash: string): { logN: number; r: number; p: number; salt: Buffer; key: Buffer } | undefined {
  const m = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/.exec(hash);
  if (!m) return undefined;
  const [logN, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Bounds keep a hand-edited store from asking for gigabytes per login.
  if (logN < 1 || logN > 20 || r < 1 || r > 16 || p < 1 || p > 4) return undefined;
  return { logN, r, p, salt: Buffer.from(m[4]!, 'base64'), key: Buffer.from(m[5]!, 'base64') };
}
