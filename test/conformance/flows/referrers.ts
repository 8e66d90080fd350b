import { beforeAll, expect, it } from 'vitest';
import type { FlowContext } from '../conformance-suite.js';
import {
  OCI_INDEX,
  makeBlob,
  makeEmptyConfig,
  makeImageManifest,
  makeIndex,
  pushBlob,
  pushImage,
  uniqueRepo,
  type Descriptor,
  type Manifest,
  type PushedImage,
} from '../content.js';

const SBOM = 'application/vnd.example.sbom.v1';
const SIGNATURE = 'application/vnd.example.signature.v1';
const CONFIG_AS_TYPE = 'application/vnd.example.config-typed.v1+json';

interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: Descriptor[];
}

/**
 * Spec, "Listing Referrers" (end-12a, end-12b) and "Pushing Manifests with Subject": both new in
 * distribution-spec v1.1, which Distribution 2.8 predates, so every check here runs only with
 * `capabilities.referrers`.
 */
export function referrersFlows(ctx: FlowContext): void {
  const itWithReferrers = it.runIf(ctx.capabilities.referrers);
  const repo = uniqueRepo('referrers');
  let subject: PushedImage;
  let sbom: Manifest;
  let signature: Manifest;
  let configTyped: Manifest;
  let index: Manifest;
  const subjectPushes: Response[] = [];

  async function pushReferrer(m: Manifest): Promise<void> {
    const res = await ctx.client().putManifest(repo, m.descriptor.digest, m.body, m.descriptor.mediaType);
    expect(res.status, await res.clone().text()).toBe(201);
    subjectPushes.push(res);
  }

  beforeAll(async () => {
    if (!ctx.capabilities.referrers) return;
    const client = ctx.client();
    subject = await pushImage(client, repo, 'subject');
    const empty = makeEmptyConfig();
    const payload = makeBlob(64, 'application/vnd.example.payload');
    await pushBlob(client, repo, empty);
    await pushBlob(client, repo, payload);
    const about = subject.manifest.descriptor;
    sbom = makeImageManifest(empty.descriptor, [payload.descriptor], {
      artifactType: SBOM,
      subject: about,
      annotations: { 'org.example.sbom.format': 'json' },
    });
    signature = makeImageManifest(empty.descriptor, [payload.descriptor], { artifactType: SIGNATURE, subject: about });
    // No artifactType: the referrers descriptor takes the config's mediaType.
    const typedConfig = { ...empty.descriptor, mediaType: CONFIG_AS_TYPE };
    configTyped = makeImageManifest(typedConfig, [payload.descriptor], { subject: about });
    // An index with a subject and no artifactType: the descriptor omits artifactType.
    index = makeIndex([subject.manifest.descriptor], { subject: about });
    for (const m of [sbom, signature, configTyped, index]) await pushReferrer(m);
  });

  async function referrers(digest: string, query: Record<string, string> = {}): Promise<{ res: Response; body: ReferrersIndex }> {
    const res = await ctx.client().get(`/v2/${repo}/referrers/${digest}`, { query });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(OCI_INDEX);
    return { res, body: (await res.json()) as ReferrersIndex };
  }

  function byDigest(list: Descriptor[], m: Manifest): Descriptor | undefined {
    return list.find((d) => d.digest === m.descriptor.digest);
  }

  itWithReferrers('a manifest PUT with a subject answers OCI-Subject: <subject digest>', () => {
    for (const res of subjectPushes) expect(res.headers.get('oci-subject')).toBe(subject.manifest.descriptor.digest);
  });

  itWithReferrers('GET referrers/<digest>: 200, an image index listing every referrer with size and media type', async () => {
    const { body } = await referrers(subject.manifest.descriptor.digest);
    expect(body.schemaVersion).toBe(2);
    expect(body.mediaType).toBe(OCI_INDEX);
    expect(body.manifests.map((d) => d.digest).sort()).toEqual([sbom, signature, configTyped, index].map((m) => m.descriptor.digest).sort());
    for (const m of [sbom, signature, configTyped, index]) {
      expect(byDigest(body.manifests, m)).toMatchObject({ mediaType: m.descriptor.mediaType, size: m.descriptor.size });
    }
  });

  itWithReferrers('descriptors carry artifactType (else the config mediaType; omitted for an index) and the annotations', async () => {
    const { body } = await referrers(subject.manifest.descriptor.digest);
    expect(byDigest(body.manifests, sbom)).toMatchObject({ artifactType: SBOM, annotations: { 'org.example.sbom.format': 'json' } });
    expect(byDigest(body.manifests, signature)?.artifactType).toBe(SIGNATURE);
    expect(byDigest(body.manifests, configTyped)?.artifactType).toBe(CONFIG_AS_TYPE);
    expect(byDigest(body.manifests, index)?.artifactType).toBeUndefined();
  });

  itWithReferrers('?artifactType= filters, and the response says so with OCI-Filters-Applied: artifactType', async () => {
    const { res, body } = await referrers(subject.manifest.descriptor.digest, { artifactType: SBOM });
    expect(res.headers.get('oci-filters-applied')).toBe('artifactType');
    expect(body.manifests.map((d) => d.digest)).toEqual([sbom.descriptor.digest]);
    const none = await referrers(subject.manifest.descriptor.digest, { artifactType: 'application/vnd.example.none' });
    expect(none.body.manifests).toEqual([]);
  });

  itWithReferrers('a digest without referrers (even one never pushed, in a repository never pushed) is 200 with an empty list, never 404', async () => {
    const { body } = await referrers(sbom.descriptor.digest);
    expect(body.manifests).toEqual([]);
    const absent = await referrers(makeBlob(8).descriptor.digest);
    expect(absent.body.manifests).toEqual([]);
    const elsewhere = await ctx.client().get(`/v2/${uniqueRepo('referrers-never-pushed')}/referrers/${subject.manifest.descriptor.digest}`);
    expect(elsewhere.status).toBe(200);
    expect(((await elsewhere.json()) as ReferrersIndex).manifests).toEqual([]);
  });

  itWithReferrers('a malformed digest is 400', async () => {
    const res = await ctx.client().get(`/v2/${repo}/referrers/sha256:not-a-digest`);
    expect(res.status).toBe(400);
    await res.arrayBuffer();
  });

  itWithReferrers('a deleted referrer leaves the list', async () => {
    const client = ctx.client();
    const extra = makeImageManifest(makeEmptyConfig().descriptor, [], { artifactType: 'application/vnd.example.temp', subject: subject.manifest.descriptor });
    await pushReferrer(extra);
    const before = await referrers(subject.manifest.descriptor.digest);
    expect(byDigest(before.body.manifests, extra)).toBeDefined();
    const del = await client.request('DELETE', `/v2/${repo}/manifests/${extra.descriptor.digest}`);
    expect(del.status).toBe(202);
    const after = await referrers(subject.manifest.descriptor.digest);
    expect(byDigest(after.body.manifests, extra)).toBeUndefined();
  });

  itWithReferrers('the referrers of a subject in another repository are not listed here', async () => {
    const other = uniqueRepo('referrers-other');
    await pushImage(ctx.client(), other, 'x');
    const { body } = await referrers(subject.manifest.descriptor.digest);
    expect(body.manifests.length).toBe(4);
    const res = await ctx.client().get(`/v2/${other}/referrers/${subject.manifest.descriptor.digest}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as ReferrersIndex).manifests).toEqual([]);
  });

  it.runIf(!ctx.capabilities.referrers)('without the referrers API, referrers/<digest> is 404 (clients then use the tag schema)', async () => {
    // "Backwards Compatibility › Unavailable Referrers API": the 404 is what tells clients to fall back.
    const image = await pushImage(ctx.client(), repo, 'subject');
    const res = await ctx.client().get(`/v2/${repo}/referrers/${image.manifest.descriptor.digest}`, { headers: { Accept: OCI_INDEX } });
    expect(res.status).toBe(404);
    await res.arrayBuffer();
  });
}
