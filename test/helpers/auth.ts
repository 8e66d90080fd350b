import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { hashSync } from 'bcryptjs';
import { credentialStorePath, FsCredentialStore, type CredentialData } from '../../src/auth/fs-credential-store.js';
import { hashTokenSecret, newTokenSecret } from '../../src/auth/secrets.js';
import { tmpDir } from './registry.js';

/** Helpers for access-control tests: seed the credential store, build headers, push content as an admin. */

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

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

export function digestOf(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export async function pushBlob(url: string, repo: string, bytes: Uint8Array<ArrayBuffer>, auth: string): Promise<{ digest: string; size: number }> {
  const digest = digestOf(bytes);
  const res = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
    body: bytes,
  });
  if (res.status !== 201) throw new Error(`push blob to ${repo}: ${res.status} ${await res.text()}`);
  return { digest, size: bytes.length };
}

export async function putManifest(url: string, repo: string, ref: string, body: Uint8Array<ArrayBuffer>, auth: string): Promise<Response> {
  return fetch(`${url}/v2/${repo}/manifests/${ref}`, { method: 'PUT', headers: { authorization: auth, 'content-type': OCI_MANIFEST }, body });
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
  const c = await pushBlob(url, repo, config, auth);
  const l = await pushBlob(url, repo, layerBytes, auth);
  const manifest = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...c },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l }],
      ...(variant ? { annotations: { variant } } : {}),
    }),
  );
  const res = await putManifest(url, repo, tag, manifest, auth);
  if (res.status !== 201) throw new Error(`push manifest ${repo}:${tag}: ${res.status} ${await res.text()}`);
  return { manifest, digest: digestOf(manifest), layer: l.digest };
}

/** Pushes an artifact whose subject is `subject`, so the referrers API has something to list. */
export async function pushReferrer(url: string, repo: string, subject: SeededImage, auth: string): Promise<string> {
  const empty = await pushBlob(url, repo, new TextEncoder().encode('{}'), auth);
  const manifest = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/vnd.example.sbom',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', ...empty },
      layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', ...empty }],
      subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.manifest.length },
    }),
  );
  const digest = digestOf(manifest);
  const res = await putManifest(url, repo, digest, manifest, auth);
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

export async function errorCodeOf(res: Response): Promise<string | undefined> {
  const text = await res.text();
  try {
    return (JSON.parse(text) as { errors?: Array<{ code?: string }> }).errors?.[0]?.code;
  } catch {
    return undefined;
  }
}
