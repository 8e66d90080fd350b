import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FakeHub } from '../../helpers/fake-hub.js';
import { makeImage, type PreparedImage } from '../../helpers/push-image.js';
import { blobPath, OCI_MANIFEST } from '../../helpers/push.js';

/** An image with random layers of the given sizes, served by the fake hub under `repo:tag`. */
export function hubImage(hub: FakeHub, repo: string, tag: string, layerSizes: readonly number[]): PreparedImage {
  const image = makeImage(repo, tag, layerSizes);
  for (const b of image.blobs) hub.addBlob(b.data);
  hub.addManifest(repo, OCI_MANIFEST, image.manifest, tag);
  return image;
}

/** Bytes of every committed blob in a data folder (what the cap is about). */
export async function storedBytes(dataDir: string): Promise<number> {
  let total = 0;
  const root = join(dataDir, 'blobs');
  for (const alg of await readdir(root).catch(() => [] as string[])) {
    for (const prefix of await readdir(join(root, alg)).catch(() => [] as string[])) {
      for (const name of await readdir(join(root, alg, prefix)).catch(() => [] as string[])) {
        total += (await stat(join(root, alg, prefix, name)).catch(() => undefined))?.size ?? 0;
      }
    }
  }
  return total;
}

/** Samples storedBytes every few milliseconds until stopped; returns every sample. */
export function sampleUsage(dataDir: string, everyMs = 5): { stop(): Promise<number[]> } {
  const samples: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      samples.push(await storedBytes(dataDir));
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

/** Problems a crash could leave: a tag without its manifest record, a record without its bytes (or, hosted, its blobs), a link without its blob. */
export async function danglingReferences(dataDir: string): Promise<string[]> {
  const problems: string[] = [];
  const blobExists = async (d: string) => (await stat(blobPath(dataDir, d)).catch(() => undefined))?.isFile() ?? false;
  const digestsIn = async (dir: string) => {
    const out: string[] = [];
    for (const alg of await readdir(dir).catch(() => [] as string[])) for (const hex of await readdir(join(dir, alg)).catch(() => [] as string[])) out.push(`${alg}:${hex}`);
    return out;
  };
  const walk = async (dir: string, repo: string): Promise<void> => {
    const names = await readdir(dir).catch(() => [] as string[]);
    const records = new Set(await digestsIn(join(dir, '_manifests')));
    for (const tag of names.includes('_tags') ? await readdir(join(dir, '_tags')) : []) {
      const d = (await readFile(join(dir, '_tags', tag), 'utf8')).trim();
      if (!records.has(d)) problems.push(`tag ${repo}:${tag} → missing manifest ${d}`);
    }
    for (const d of records) {
      const record = JSON.parse(await readFile(join(dir, '_manifests', ...d.split(':')), 'utf8')) as { origin: string };
      if (!(await blobExists(d))) {
        problems.push(`manifest ${repo}@${d} without its bytes`);
        continue;
      }
      if (record.origin !== 'hosted') continue; // a mirror fetches a cached manifest's layers on demand
      const json = JSON.parse(await readFile(blobPath(dataDir, d), 'utf8')) as { config?: { digest: string }; layers?: Array<{ digest: string }> };
      for (const ref of [json.config?.digest, ...(json.layers ?? []).map((l) => l.digest)]) {
        if (ref && !(await blobExists(ref))) problems.push(`manifest ${repo}@${d} → missing blob ${ref}`);
      }
    }
    for (const d of await digestsIn(join(dir, '_layers'))) if (!(await blobExists(d))) problems.push(`link ${repo} → missing blob ${d}`);
    for (const name of names) if (!name.startsWith('_')) await walk(join(dir, name), repo ? `${repo}/${name}` : name);
  };
  await walk(join(dataDir, 'repositories'), '');
  return problems;
}

/** Number of files under a folder, recursively (blobs, tags…), for watching a sweep progress. */
export async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) n += e.isDirectory() ? await countFiles(join(dir, e.name)) : 1;
  return n;
}
