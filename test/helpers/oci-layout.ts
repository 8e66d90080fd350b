import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { DigestingStream } from '../../src/oci/digest.js';
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, sha256 } from './push.js';

/**
 * Builds OCI image layouts (https://github.com/opencontainers/image-spec/blob/main/image-layout.md) from local
 * bytes only, so end-to-end tests and the benchmark need no network. Layers are real gzip tars holding one file
 * of pseudo-random bytes; the config carries the matching diff_ids, so skopeo and podman accept the images.
 */

const REF_NAME = 'org.opencontainers.image.ref.name';

export interface LayoutDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ImageOptions {
  /** Uncompressed size in bytes of the one file in each layer (the tar adds ~1.5 KiB). */
  layerSizes: readonly number[];
  /** Same seed → same bytes → same digests. Without one the content is random on every call. */
  seed?: string;
  platform?: Platform;
  /** zlib level for the layer gzip; random bytes do not compress, so 1 (the default) is just the fastest. */
  gzipLevel?: number;
}

export interface BuiltImage {
  manifest: LayoutDescriptor;
  config: LayoutDescriptor;
  layers: Array<LayoutDescriptor & { diffId: string }>;
}

export interface BuiltIndex {
  index: LayoutDescriptor;
  images: BuiltImage[];
}

/** An OCI layout folder that images can be added to; `finish()` (re)writes index.json. */
export class OciLayout {
  private readonly refs: LayoutDescriptor[] = [];

  private constructor(readonly dir: string) {}

  static async create(dir: string): Promise<OciLayout> {
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    return new OciLayout(dir);
  }

  blobPath(digest: string): string {
    const [algorithm, hex] = digest.split(':');
    return join(this.dir, 'blobs', algorithm!, hex!);
  }

  /** `oci:DIR:TAG` for skopeo and podman. */
  reference(tag: string): string {
    return `oci:${this.dir}:${tag}`;
  }

  async addImage(options: ImageOptions, tag?: string): Promise<BuiltImage> {
    const seed = options.seed ?? randomBytes(16).toString('hex');
    const platform = options.platform ?? { os: 'linux', architecture: 'amd64' };
    const layers: BuiltImage['layers'] = [];
    for (const [i, size] of options.layerSizes.entries()) {
      layers.push(await this.writeLayer(`${seed}/${platform.architecture}/layer${i}`, size, options.gzipLevel ?? 1));
    }
    const configJson = {
      created: '2024-01-01T00:00:00Z',
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'], Labels: { seed } },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `test layer ${i}` })),
    };
    const config = await this.writeJson(OCI_CONFIG, configJson);
    const manifest = await this.writeJson(OCI_MANIFEST, {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: strip(config),
      layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
    });
    manifest.platform = platform;
    if (tag !== undefined) this.tag(manifest, tag);
    return { manifest, config, layers };
  }

  /** A multi-arch image: one image per platform (linux/amd64 and linux/arm64 by default) under one OCI index. */
  async addIndex(
    options: Omit<ImageOptions, 'platform'> & { platforms?: readonly Platform[] },
    tag?: string,
  ): Promise<BuiltIndex> {
    const seed = options.seed ?? randomBytes(16).toString('hex');
    const platforms = options.platforms ?? [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
    ];
    const images: BuiltImage[] = [];
    for (const platform of platforms) images.push(await this.addImage({ ...options, seed, platform }));
    const index = await this.writeJson(OCI_INDEX, {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: images.map((img) => ({ ...strip(img.manifest), platform: img.manifest.platform })),
    });
    if (tag !== undefined) this.tag(index, tag);
    return { index, images };
  }

  tag(descriptor: LayoutDescriptor, tag: string): void {
    const { mediaType, digest, size } = descriptor;
    this.refs.push({ mediaType, digest, size, annotations: { [REF_NAME]: tag } });
  }

  async finish(): Promise<void> {
    await writeFile(join(this.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: this.refs }));
  }

  async readBlob(digest: string): Promise<Buffer> {
    return readFile(this.blobPath(digest));
  }

  private async writeJson(mediaType: string, value: unknown): Promise<LayoutDescriptor> {
    const bytes = Buffer.from(JSON.stringify(value));
    const digest = sha256(bytes);
    await writeFile(this.blobPath(digest), bytes);
    return { mediaType, digest, size: bytes.length };
  }

  private async writeLayer(seed: string, size: number, gzipLevel: number): Promise<BuiltImage['layers'][number]> {
    const tmp = join(this.dir, 'blobs', `.tmp-${randomBytes(6).toString('hex')}`);
    const diff = new DigestingStream('sha256');
    const compressed = new DigestingStream('sha256');
    await pipeline(tarOfOneFile('data.bin', size, seed), diff, createGzip({ level: gzipLevel }), compressed, createWriteStream(tmp));
    const digest = compressed.digest();
    await rename(tmp, this.blobPath(digest));
    return { mediaType: OCI_LAYER, digest, size: compressed.bytes, diffId: diff.digest() };
  }
}

/** Reads an OCI layout's index.json and returns the descriptor tagged `tag`. */
export async function layoutRef(dir: string, tag: string): Promise<LayoutDescriptor> {
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: LayoutDescriptor[] };
  const found = index.manifests.find((m) => m.annotations?.[REF_NAME] === tag);
  if (!found) throw new Error(`tag ${tag} not in ${dir}/index.json`);
  return found;
}

/**
 * Deterministic pseudo-random bytes: AES-256-CTR over zeros, keyed by sha256(seed). Fast (GB/s), so the
 * benchmark can make multi-GiB blobs without the generator being the bottleneck.
 */
export function seededBytes(seed: string, size: number, chunk = 1024 * 1024): Readable {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(chunk);
  let left = size;
  return new Readable({
    highWaterMark: chunk,
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, chunk);
      left -= n;
      this.push(cipher.update(n === chunk ? zeros : zeros.subarray(0, n)));
    },
  });
}

/** A ustar archive holding one regular file of `size` seeded bytes. */
function tarOfOneFile(name: string, size: number, seed: string): Readable {
  const header = tarHeader(name, size);
  const padding = Buffer.alloc((512 - (size % 512)) % 512);
  const trailer = Buffer.alloc(1024);
  return Readable.from(
    (async function* () {
      yield header;
      for await (const chunk of seededBytes(seed, size)) yield chunk as Buffer;
      yield Buffer.concat([padding, trailer]);
    })(),
  );
}

function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  const field = (value: string, offset: number, length: number) => h.write(value, offset, length, 'ascii');
  const octal = (n: number, length: number) => n.toString(8).padStart(length - 1, '0') + '\0';
  field(name, 0, 100);
  field(octal(0o644, 8), 100, 8);
  field(octal(0, 8), 108, 8); // uid
  field(octal(0, 8), 116, 8); // gid
  field(octal(size, 12), 124, 12); // 11 octal digits: up to 8 GiB, enough for tests
  field(octal(1704067200, 12), 136, 12); // mtime 2024-01-01, fixed for reproducible digests
  field('        ', 148, 8); // checksum is computed with its own field as spaces
  field('0', 156, 1); // regular file
  field('ustar\0', 257, 6);
  field('00', 263, 2);
  let sum = 0;
  for (const byte of h) sum += byte;
  field(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}


function strip(d: LayoutDescriptor): LayoutDescriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}
