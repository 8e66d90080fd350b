import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OCI_EMPTY, OCI_INDEX, OCI_MANIFEST, errorCode, imageManifest, indexManifest, pushBlob, pushImage, putManifest, sha256, type Desc, type PushedImage } from '../../helpers/push.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';

interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: Desc[];
}

describe('referrers API', () => {
  let reg: RunningRegistry;
  let subject: PushedImage;
  let empty: Desc;
  const repo = 'acme/refs';
  const SBOM = 'application/vnd.example.sbom.v1';
  const SIG = 'application/vnd.example.signature.v1';

  async function pushArtifact(artifactType: string | undefined, label: string, config?: Desc): Promise<{ res: Response; desc: Desc }> {
    const payload = await pushBlob(reg.url, repo, `payload ${label}`, 'application/octet-stream');
    const extra: Record<string, unknown> = { subject: subject.manifest, annotations: { label } };
    if (artifactType) extra.artifactType = artifactType;
    const body = imageManifest(config ?? empty, [payload], extra);
    const res = await putManifest(reg.url, repo, sha256(body), body, OCI_MANIFEST);
    return { res, desc: { mediaType: OCI_MANIFEST, digest: sha256(body), size: body.length } };
  }

  async function referrers(query = ''): Promise<{ res: Response; body: ReferrersIndex }> {
    const res = await fetch(`${reg.url}/v2/${repo}/referrers/${subject.manifest.digest}${query}`);
    return { res, body: (await res.json()) as ReferrersIndex };
  }

  let sbom: Desc;
  let sig: Desc;
  let configTyped: Desc;

  beforeAll(async () => {
    reg = await startRegistry();
    subject = await pushImage(reg.url, repo, 'app', { seed: 'subject' });
    empty = await pushBlob(reg.url, repo, '{}', OCI_EMPTY);
    const a = await pushArtifact(SBOM, 'sbom');
    expect(a.res.status).toBe(201);
    expect(a.res.headers.get('oci-subject')).toBe(subject.manifest.digest);
    sbom = a.desc;
    sig = (await pushArtifact(SIG, 'sig')).desc;
    // No artifactType: the config's media type stands in for it.
    const cfg = await pushBlob(reg.url, repo, '{"kind":"legacy"}', 'application/vnd.example.legacy.config');
    configTyped = (await pushArtifact(undefined, 'legacy', cfg)).desc;
  });
  afterAll(async () => {
    await reg.close();
  });

  it('PUT of a manifest with a subject answers OCI-Subject; without a subject it does not', async () => {
    const { res } = await pushArtifact(SBOM, 'another');
    expect(res.status).toBe(201);
    expect(res.headers.get('oci-subject')).toBe(subject.manifest.digest);
    const plain = await putManifest(reg.url, repo, 'plain', imageManifest(subject.config, subject.layers, { annotations: { plain: '1' } }), OCI_MANIFEST);
    expect(plain.status).toBe(201);
    expect(plain.headers.get('oci-subject')).toBeNull();
  });

  it('lists every referrer as an OCI index with artifactType and annotations', async () => {
    const { res, body } = await referrers();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/vnd\.oci\.image\.index\.v1\+json/);
    expect(res.headers.get('oci-filters-applied')).toBeNull();
    expect(body.schemaVersion).toBe(2);
    expect(body.mediaType).toBe(OCI_INDEX);
    const byDigest = new Map(body.manifests.map((m) => [m.digest, m]));
    expect(byDigest.get(sbom.digest)).toMatchObject({ ...sbom, artifactType: SBOM, annotations: { label: 'sbom' } });
    expect(byDigest.get(sig.digest)).toMatchObject({ ...sig, artifactType: SIG });
    expect(byDigest.get(configTyped.digest)).toMatchObject({ artifactType: 'application/vnd.example.legacy.config' });
  });

  it('filters by artifactType and says so with OCI-Filters-Applied', async () => {
    const { res, body } = await referrers(`?artifactType=${encodeURIComponent(SIG)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('oci-filters-applied')).toBe('artifactType');
    expect(body.manifests.map((m) => m.digest)).toEqual([sig.digest]);
    const none = await referrers('?artifactType=application/x-none');
    expect(none.body.manifests).toEqual([]);
  });

  it('an index can be a referrer too', async () => {
    const body = indexManifest([subject.manifest], { subject: subject.manifest, artifactType: 'application/vnd.example.bundle' });
    const res = await putManifest(reg.url, repo, sha256(body), body, OCI_INDEX);
    expect(res.status).toBe(201);
    expect(res.headers.get('oci-subject')).toBe(subject.manifest.digest);
    const list = await referrers('?artifactType=application/vnd.example.bundle');
    expect(list.body.manifests).toEqual([{ mediaType: OCI_INDEX, digest: sha256(body), size: body.length, artifactType: 'application/vnd.example.bundle' }]);
  });

  it('a subject with no referrers (or not pushed at all) gives an empty index, 200', async () => {
    const res = await fetch(`${reg.url}/v2/${repo}/referrers/${sha256('nothing refers to me')}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as ReferrersIndex).manifests).toEqual([]);
  });

  it('deleting a referrer removes it from the list', async () => {
    const { desc } = await pushArtifact('application/vnd.example.temp', 'temp');
    expect((await referrers('?artifactType=application/vnd.example.temp')).body.manifests).toHaveLength(1);
    expect((await fetch(`${reg.url}/v2/${repo}/manifests/${desc.digest}`, { method: 'DELETE' })).status).toBe(202);
    expect((await referrers('?artifactType=application/vnd.example.temp')).body.manifests).toEqual([]);
  });

  it('a malformed subject digest is 400 DIGEST_INVALID', async () => {
    const res = await fetch(`${reg.url}/v2/${repo}/referrers/sha256:nothex`);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('DIGEST_INVALID');
  });
});
