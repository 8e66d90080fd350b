import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { hashSync } from 'bcryptjs';
import { credentialStorePath, FsCredentialStore, type CredentialData } from '../../src/auth/fs-credential-store.js';
import { hashTokenSecret, newTokenSecret } from '../../src/auth/secrets.js';
import { OCI_CONFIG, OCI_EMPTY, OCI_LAYER, OCI_MANIFEST, pushBlob, putManifest, sha256 } from './push.js';
import { tmpDir } from './registry.js';

/** Helpers for access-control tests: seed the credential store, build headers, push content as an admin. */

/** Temp folders a test file makes, removed together in its afterAll. */
export function scratchDirs(): { make(prefix: string): Promise<string>; cleanup(): Promise<void> } {
  const dirs: string[] = [];
  return {
    async make(prefix) {
      const dir = await tmpDir(prefix);
      dirs.push(dir);
      return dir;
    },
    async cleanup() {
      await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}

export function basic(user: string, secret: string): string {
  return `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
}

/** bcrypt at cost 4: the same algorithm, fast enough for tests that log in hundreds of times. */
export function quickHash(password: string): string {
  return hashSync(password, 4);
}

export interface SeedToken {
  name: string;
  user: string;
  scopes: Array<'read' | 'write' | 'delete'>;
  namespaces: string[];
  expiresAt?: number;
  revoked?: boolean;
}

/** Writes users and tokens into a data folder's credential store; returns each token's secret by name. */
export async function seedCredentials(
  dataDir: string,
  users: Array<{ name: string; password?: string; access: CredentialData['users'][number]['access'] }>,
  tokens: SeedToken[] = [],
): Promise<Record<string, { id: string; secret: string }>> {
  const store = new FsCredentialStore(credentialStorePath(dataDir), 0);
  const out: Record<string, { id: string; secret: string }> = {};
  await store.update((data) => {
    const now = new Date().toISOString();
    for (const u of users) data.users.push({ name: u.name, passwordHash: u.password ? quickHash(u.password) : undefined, access: u.access, createdAt: now });
    for (const t of tokens) {
      const secret = newTokenSecret();
      const id = randomBytes(6).toString('hex');
      out[t.name] = { id, secret };
      data.tokens.push({
        id,
        name: t.name,
        user: t.user,
        hash: hashTokenSecret(secret),
        scopes: t.scopes,
        namespaces: t.namespaces,
        createdAt: now,
        ...(t.expiresAt === undefined ? {} : { expiresAt: new Date(t.expiresAt).toISOString() }),
        ...(t.revoked ? { revokedAt: now } : {}),
      });
    }
  });
  return out;
}

export interface SeededImage {
  manifest: Uint8Array<ArrayBuffer>;
  digest: string;
  layer: string;
}

/** Pushes a one-layer image to repo:tag; `variant` changes the manifest bytes (so each gets its own digest). */
export async function pushSmallImage(url: string, repo: string, tag: string, auth: string, variant = ''): Promise<SeededImage> {
  const config = new TextEncoder().encode(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const layerBytes = new TextEncoder().encode('layer bytes of a test image');
  const headers = { authorization: auth };
  const c = await pushBlob(url, repo, config, OCI_CONFIG, { headers, singleRequest: true });
  const l = await pushBlob(url, repo, layerBytes, OCI_LAYER, { headers, singleRequest: true });
  const manifest = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: c,
      layers: [l],
      ...(variant ? { annotations: { variant } } : {}),
    }),
  );
  const res = await putManifest(url, repo, tag, manifest, OCI_MANIFEST, headers);
  if (res.status !== 201) throw new Error(`push manifest ${repo}:${tag}: ${res.status} ${await res.text()}`);
  return { manifest, digest: sha256(manifest), layer: l.digest };
}

/** Pushes an artifact whose subject is `subject`, so the referrers API has something to list. */
export async function pushReferrer(url: string, repo: string, subject: SeededImage, auth: string): Promise<string> {
  const headers = { authorization: auth };
  const empty = await pushBlob(url, repo, '{}', OCI_EMPTY, { headers, singleRequest: true });
  const manifest = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/vnd.example.sbom',
      config: empty,
      layers: [empty],
      subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.manifest.length },
    }),
  );
  const digest = sha256(manifest);
  const res = await putManifest(url, repo, digest, manifest, OCI_MANIFEST, headers);
  if (res.status !== 201) throw new Error(`push referrer: ${res.status} ${await res.text()}`);
  return digest;
}

/** GET /token as docker does; returns the status and, on 200, the token. */
export async function fetchToken(url: string, scopes: string[], auth?: string): Promise<{ status: number; token?: string; body: unknown }> {
  const q = new URLSearchParams({ service: 'registry' });
  for (const s of scopes) q.append('scope', s);
  const res = await fetch(`${url}/token?${q}`, { headers: auth ? { authorization: auth } : {} });
  const body = (await res.json()) as { token?: string };
  return { status: res.status, token: res.status === 200 ? body.token : undefined, body };
}
