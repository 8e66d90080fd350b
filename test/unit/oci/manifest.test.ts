import { describe, expect, it } from 'vitest';
import { digestOf } from '../../../src/oci/digest.js';
import { isOciError } from '../../../src/oci/errors.js';
import { parseManifest, stripParameters } from '../../../src/oci/manifest.js';
import { MediaType } from '../../../src/oci/media-types.js';

const EMPTY_CONFIG = { mediaType: MediaType.OciEmpty, digest: digestOf('{}'), size: 2 };
const config = { mediaType: MediaType.OciConfig, digest: digestOf('config'), size: 6 };
const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digestOf('layer'), size: 5 };
const child = { mediaType: MediaType.OciManifest, digest: digestOf('child'), size: 5, platform: { os: 'linux', architecture: 'arm64' } };

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function failure(body: Buffer, contentType?: string): string {
  try {
    parseManifest(body, contentType);
  } catch (err) {
    if (isOciError(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error('expected parseManifest to fail');
}

describe('parseManifest', () => {
  it('parses an OCI image manifest: config and layers are required blobs', () => {
    const m = parseManifest(json({ schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] }), MediaType.OciManifest);
    expect(m.mediaType).toBe(MediaType.OciManifest);
    expect(m.blobs.map((b) => b.digest)).toEqual([config.digest, layer.digest]);
    expect(m.manifests).toEqual([]);
    expect(m.subject).toBeUndefined();
    // The referrers API reports the config type when artifactType is absent.
    expect(m.artifactType).toBe(MediaType.OciConfig);
  });

  it('parses an OCI index: entries are required child manifests, platform kept', () => {
    const m = parseManifest(json({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [child] }), MediaType.OciIndex);
    expect(m.mediaType).toBe(MediaType.OciIndex);
    expect(m.blobs).toEqual([]);
    expect(m.manifests).toEqual([child]);
  });

  it('parses Docker v2 schema 2 and a manifest list', () => {
    const docker = parseManifest(
      json({ schemaVersion: 2, mediaType: MediaType.DockerManifest, config: { ...config, mediaType: 'application/vnd.docker.container.image.v1+json' }, layers: [layer] }),
      MediaType.DockerManifest,
    );
    expect(docker.mediaType).toBe(MediaType.DockerManifest);
    expect(docker.blobs).toHaveLength(2);
    const list = parseManifest(
      json({ schemaVersion: 2, mediaType: MediaType.DockerManifestList, manifests: [{ ...child, mediaType: MediaType.DockerManifest }] }),
      MediaType.DockerManifestList,
    );
    expect(list.mediaType).toBe(MediaType.DockerManifestList);
    expect(list.manifests).toHaveLength(1);
  });

  it('parses an artifact with artifactType, the empty config and a subject', () => {
    const subject = { mediaType: MediaType.OciManifest, digest: digestOf('subject'), size: 7 };
    const m = parseManifest(
      json({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        artifactType: 'application/vnd.example.sbom',
        config: EMPTY_CONFIG,
        layers: [EMPTY_CONFIG],
        subject,
        annotations: { 'org.example': 'yes' },
      }),
      MediaType.OciManifest,
    );
    expect(m.artifactType).toBe('application/vnd.example.sbom');
    expect(m.subject?.digest).toBe(subject.digest);
    expect(m.annotations).toEqual({ 'org.example': 'yes' });
    expect(m.blobs.map((b) => b.digest)).toEqual([EMPTY_CONFIG.digest, EMPTY_CONFIG.digest]);
  });

  it('skips foreign and non-distributable layers when listing required blobs', () => {
    const foreign = { mediaType: MediaType.DockerForeignLayer, digest: digestOf('windows'), size: 100, urls: ['https://example.invalid/base'] };
    const nondist = { mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', digest: digestOf('nd'), size: 2 };
    const m = parseManifest(json({ schemaVersion: 2, mediaType: MediaType.DockerManifest, config, layers: [foreign, nondist, layer] }), undefined);
    expect(m.blobs.map((b) => b.digest)).toEqual([config.digest, layer.digest]);
  });

  it('infers the type from the body when neither mediaType nor Content-Type says', () => {
    expect(parseManifest(json({ schemaVersion: 2, config, layers: [] }), undefined).mediaType).toBe(MediaType.OciManifest);
    expect(parseManifest(json({ schemaVersion: 2, manifests: [] }), 'application/json').mediaType).toBe(MediaType.OciIndex);
    expect(parseManifest(json({ schemaVersion: 2, manifests: [] }), MediaType.DockerManifestList).mediaType).toBe(MediaType.DockerManifestList);
  });

  it('accepts Content-Type parameters and case differences', () => {
    expect(stripParameters(`${MediaType.OciManifest.toUpperCase()}; charset=utf-8`)).toBe(MediaType.OciManifest);
    const m = parseManifest(json({ schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [] }), `${MediaType.OciManifest}; charset=utf-8`);
    expect(m.mediaType).toBe(MediaType.OciManifest);
  });

  it('refuses a mediaType that contradicts Content-Type', () => {
    expect(failure(json({ schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [] }), MediaType.DockerManifest)).toMatch(
      /^MANIFEST_INVALID: .*Content-Type/,
    );
  });

  it('refuses Docker schema 1', () => {
    const body = json({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [], history: [] });
    expect(failure(body, MediaType.DockerSchema1)).toMatch(/^MANIFEST_INVALID: .*schema 1/);
    expect(failure(body, MediaType.DockerSchema1Signed)).toMatch(/^MANIFEST_INVALID/);
    expect(failure(body, undefined)).toMatch(/^MANIFEST_INVALID/);
  });

  it.each([
    ['not JSON', Buffer.from('{not json'), MediaType.OciManifest],
    ['a JSON array', json([]), MediaType.OciManifest],
    ['a JSON string', json('manifest'), MediaType.OciManifest],
    ['null', json(null), MediaType.OciManifest],
    ['schemaVersion 3', json({ schemaVersion: 3, config, layers: [] }), MediaType.OciManifest],
    ['no config', json({ schemaVersion: 2, layers: [] }), MediaType.OciManifest],
    ['no layers', json({ schemaVersion: 2, config }), MediaType.OciManifest],
    ['bad layer digest', json({ schemaVersion: 2, config, layers: [{ ...layer, digest: 'sha256:nothex' }] }), MediaType.OciManifest],
    ['negative size', json({ schemaVersion: 2, config: { ...config, size: -1 }, layers: [] }), MediaType.OciManifest],
    ['fractional size', json({ schemaVersion: 2, config: { ...config, size: 1.5 }, layers: [] }), MediaType.OciManifest],
    ['index without manifests', json({ schemaVersion: 2, mediaType: MediaType.OciIndex }), MediaType.OciIndex],
    ['unknown media type', json({ schemaVersion: 2, mediaType: 'application/x-nonsense', config, layers: [] }), 'application/x-nonsense'],
  ])('refuses %s with MANIFEST_INVALID', (_label, body, contentType) => {
    expect(failure(body, contentType)).toMatch(/^MANIFEST_INVALID/);
  });
});
