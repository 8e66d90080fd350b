import { describe, expect, it } from 'vitest';
import { MediaType, acceptsManifest, isForeignLayer, parseAccept } from '../../../src/oci/media-types.js';

describe('parseAccept', () => {
  it('is empty without a header', () => {
    expect(parseAccept(undefined)).toEqual([]);
  });

  it('splits comma-joined and repeated headers, drops parameters and lower-cases', () => {
    expect(parseAccept(`${MediaType.OciManifest}; q=0.5, ${MediaType.DockerManifest}`)).toEqual([MediaType.OciManifest, MediaType.DockerManifest]);
    expect(parseAccept([MediaType.OciIndex, ` ${MediaType.DockerManifestList.toUpperCase()} ,`])).toEqual([
      MediaType.OciIndex,
      MediaType.DockerManifestList,
    ]);
  });
});

describe('acceptsManifest', () => {
  it('serves anything when no Accept constrains it', () => {
    expect(acceptsManifest([], MediaType.OciIndex)).toBe(true);
    expect(acceptsManifest(['application/json'], MediaType.DockerManifest)).toBe(true);
  });

  it('honours wildcards', () => {
    expect(acceptsManifest(['*/*'], MediaType.OciManifest)).toBe(true);
    expect(acceptsManifest([MediaType.DockerManifest, 'application/*'], MediaType.OciIndex)).toBe(true);
  });

  it('serves a listed type and refuses an unlisted one', () => {
    expect(acceptsManifest([MediaType.OciManifest, MediaType.OciIndex], MediaType.OciIndex)).toBe(true);
    expect(acceptsManifest([MediaType.DockerManifest], MediaType.OciIndex)).toBe(false);
    expect(acceptsManifest([MediaType.OciManifest], MediaType.DockerManifestList)).toBe(false);
  });
});

describe('isForeignLayer', () => {
  it('recognises Docker foreign layers, OCI non-distributable layers and layers with urls', () => {
    expect(isForeignLayer(MediaType.DockerForeignLayer, undefined)).toBe(true);
    expect(isForeignLayer('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', undefined)).toBe(true);
    expect(isForeignLayer('application/vnd.oci.image.layer.v1.tar+gzip', ['https://example.invalid/layer'])).toBe(true);
  });

  it('treats ordinary layers as distributable', () => {
    expect(isForeignLayer('application/vnd.oci.image.layer.v1.tar+gzip', undefined)).toBe(false);
    expect(isForeignLayer('application/vnd.oci.image.layer.v1.tar+gzip', [])).toBe(false);
  });
});
