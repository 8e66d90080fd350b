import { readFile } from 'node:fs/promises';
import { expect } from 'vitest';
import { blobPath } from './push.js';

/** Step-by-step blob upload requests for the upload tests, which check each response themselves. */

/** POST /v2/<repo>/blobs/uploads/, expecting a new session (202 with a Location); returns the session's absolute URL. */
export async function startUpload(registryUrl: string, repo: string): Promise<URL> {
  const res = await fetch(`${registryUrl}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  expect(res.status).toBe(202);
  const location = res.headers.get('location');
  expect(location).toBeTruthy();
  return new URL(location!, registryUrl);
}

/** The session URL with ?digest= set, as the closing PUT needs it. */
export function withDigest(location: URL, digest: string): URL {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u;
}

/** The blob's bytes in the registry's store on disk, or undefined when it is not stored. */
export async function storedBlob(dataDir: string, digest: string): Promise<Buffer | undefined> {
  return readFile(blobPath(dataDir, digest)).catch(() => undefined);
}
