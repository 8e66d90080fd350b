import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_LAYER_UNCOMPRESSED, OCI_MANIFEST, sha256 } from './push.js';
import { mustRun } from './run-tool.js';

/**
 * OCI layouts whose layers are real file trees packed with the system's tar (and gzip or zstd), so a
 * test can compare what the registry lists and hashes with `tar -tv` and node:crypto on the same bytes.
 */

export type Compression = 'gzip' | 'none' | 'zstd';

export interface TarLayerSpec {
  /** Folder whose contents become the layer. */
  dir: string;
  compression: Compression;
}

export interface TarLayer {
  digest: string;
  mediaType: string;
  size: number;
  /** The blob as pushed (compressed). */
  blobPath: string;
  /** The uncompressed tar, for `tar -tvf`. */
  tarPath: string;
}

export interface TarImage {
  manifestDigest: string;
  manifest: Buffer;
  configDigest: string;
  layers: TarLayer[];
}

const MEDIA: Record<Compression, string> = { gzip: OCI_LAYER, none: OCI_LAYER_UNCOMPRESSED, zstd: 'application/vnd.oci.image.layer.v1.tar+zstd' };

export async function fileHash(path: string, algorithm: string): Promise<string> {
  const h = createHash(algorithm);
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Writes an OCI layout at `layoutDir` with one image tagged `tag`, built from the given folders. */
export async function writeTarImage(
  layoutDir: string,
  work: string,
  tag: string,
  o: { layers: TarLayerSpec[]; labels?: Record<string, string>; annotations?: Record<string, string> },
): Promise<TarImage> {
  await mkdir(join(layoutDir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const layers: TarLayer[] = [];
  const diffIds: string[] = [];
  for (const [i, spec] of o.layers.entries()) {
    const tarPath = join(work, `layer${i}.tar`);
    await mustRun('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=2024-01-01 00:00Z', '-C', spec.dir, '-cf', tarPath, '.']);
    diffIds.push(`sha256:${await fileHash(tarPath, 'sha256')}`);
    let packed = tarPath;
    if (spec.compression === 'gzip') {
      await mustRun('gzip', ['-1', '-k', '-f', tarPath]);
      packed = `${tarPath}.gz`;
    } else if (spec.compression === 'zstd') {
      await mustRun('zstd', ['-q', '-1', '-f', tarPath, '-o', `${tarPath}.zst`]);
      packed = `${tarPath}.zst`;
    }
    const digest = `sha256:${await fileHash(packed, 'sha256')}`;
    const blobPath = join(layoutDir, 'blobs', 'sha256', digest.slice(7));
    await copyFile(packed, blobPath);
    layers.push({ digest, mediaType: MEDIA[spec.compression], size: (await stat(blobPath)).size, blobPath, tarPath });
  }
  const config = Buffer.from(
    JSON.stringify({
      created: '2024-01-01T00:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/bin:/bin'], Labels: o.labels ?? {} },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `layer ${i}` })),
    }),
  );
  const configDigest = sha256(config);
  await writeFile(join(layoutDir, 'blobs', 'sha256', configDigest.slice(7)), config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      ...(o.annotations ? { annotations: o.annotations } : {}),
    }),
  );
  const manifestDigest = sha256(manifest);
  await writeFile(join(layoutDir, 'blobs', 'sha256', manifestDigest.slice(7)), manifest);
  const indexPath = join(layoutDir, 'index.json');
  const existing = await readFile(indexPath, 'utf8').then((t) => JSON.parse(t) as { manifests: unknown[] }, () => ({ manifests: [] as unknown[] }));
  existing.manifests.push({ mediaType: OCI_MANIFEST, digest: manifestDigest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } });
  await writeFile(indexPath, JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: existing.manifests }));
  return { manifestDigest, manifest, configDigest, layers };
}

export interface TarListing {
  mode: string;
  size: number;
  path: string;
  link?: string;
}

/** `tar -tvf` of an uncompressed tar, parsed: mode string, size, path (without './'), link target. */
export async function tarListing(tarPath: string): Promise<TarListing[]> {
  const { stdout } = await mustRun('tar', ['--numeric-owner', '-tvf', tarPath]);
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      // drwxr-xr-x 0/0               0 2024-01-01 00:00 ./a/
      const m = /^(\S{10})\s+\S+\s+(\d+)\s+\S+\s+\S+\s+(.*)$/.exec(line);
      if (!m) throw new Error(`unparsed tar line: ${line}`);
      let rest = m[3]!;
      let link: string | undefined;
      const sym = rest.indexOf(' -> ');
      const hard = rest.indexOf(' link to ');
      if (sym >= 0) [rest, link] = [rest.slice(0, sym), rest.slice(sym + 4)];
      else if (hard >= 0) [rest, link] = [rest.slice(0, hard), rest.slice(hard + 9)];
      return { mode: m[1]!, size: Number(m[2]), path: rest.replace(/^\.\//, ''), link };
    });
}
