import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { createExclusive, WatchedFile, writeAtomic } from './auth-files.js';

export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly alg: 'ES256' | 'ES384' | 'ES512' | 'RS256' | 'EdDSA';
  /** RFC 7638 thumbprint of the public key: tells which key signed a token. */
  readonly kid: string;
}

export function defaultSigningKeyPath(dataDir: string): string {
  return join(dataDir, 'auth', 'signing-key.pem');
}

function generatePem(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/**
 * The token signing key, a PKCS#8 PEM file. Generated (EC P-256) when missing; re-read when the file
 * changes, so `registry-admin key rotate` takes effect in a running server and every token signed
 * with the old key stops verifying.
 */
export class SigningKeyFile {
  private readonly file: WatchedFile<SigningKey>;

  constructor(
    readonly path: string,
    reloadIntervalMs = 1000,
  ) {
    this.file = new WatchedFile(path, (text) => this.load(text), reloadIntervalMs);
  }

  async current(): Promise<SigningKey> {
    return this.file.get();
  }

  /** Creates the key if there is none yet; a key already there is kept. */
  async ensure(): Promise<SigningKey> {
    await createExclusive(this.path, generatePem());
    this.file.invalidate();
    return this.current();
  }

  /** Replaces the key: every token issued so far becomes invalid. */
  async rotate(): Promise<SigningKey> {
    await writeAtomic(this.path, generatePem());
    this.file.invalidate();
    return this.current();
  }

  private async load(text: string | undefined): Promise<SigningKey> {
    if (text === undefined) throw new Error(`signing key ${this.path} is missing`);
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(text);
    } catch (err) {
      throw new Error(`signing key ${this.path} is not a PKCS#8/PEM private key: ${(err as Error).message}`);
    }
    const publicKey = createPublicKey(privateKey);
    const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
    return { privateKey, publicKey, alg: algorithmOf(privateKey), kid };
  }
}

function algorithmOf(key: KeyObject): SigningKey['alg'] {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') return 'RS256';
  if (type === 'ed25519') return 'EdDSA';
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ES256';
    if (curve === 'secp384r1') return 'ES384';
    if (curve === 'secp521r1') return 'ES512';
    throw new Error(`unsupported EC curve ${curve ?? '?'} for the signing key`);
  }
  throw new Error(`unsupported signing key type ${type ?? '?'}`);
}
