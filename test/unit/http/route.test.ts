import { describe, expect, it } from 'vitest';
import { matchRoute } from '../../../src/http/route.js';
import { isOciError } from '../../../src/oci/errors.js';

const D = `sha256:${'a'.repeat(64)}`;

function code(path: string): string | undefined {
  try {
    matchRoute(path);
  } catch (err) {
    return isOciError(err) ? err.code : 'other';
  }
  return undefined;
}

describe('matchRoute', () => {
  it.each([
    ['/v2/', 'base', undefined, undefined],
    ['/v2', 'base', undefined, undefined],
    ['/v2/_catalog', 'catalog', undefined, undefined],
    ['/v2/a/b/c/manifests/latest', 'manifest', 'a/b/c', 'latest'],
    [`/v2/app/manifests/${D}`, 'manifest', 'app', D],
    ['/v2/app/blobs/uploads/', 'uploadStart', 'app', undefined],
    ['/v2/app/blobs/uploads', 'uploadStart', 'app', undefined],
    ['/v2/org/app/blobs/uploads/123e4567-e89b-42d3-a456-426614174000', 'upload', 'org/app', '123e4567-e89b-42d3-a456-426614174000'],
    [`/v2/org/app/blobs/${D}`, 'blob', 'org/app', D],
    ['/v2/org/app/tags/list', 'tags', 'org/app', undefined],
    [`/v2/org/app/referrers/${D}`, 'referrers', 'org/app', D],
    // A repository may be named like a route word.
    ['/v2/manifests/manifests/x', 'manifest', 'manifests', 'x'],
    ['/v2/blobs/tags/list', 'tags', 'blobs', undefined],
  ])('%s → %s', (path, kind, name, ref) => {
    const m = matchRoute(path);
    expect(m?.kind).toBe(kind);
    expect(m?.name).toBe(name);
    expect(m?.ref).toBe(ref);
  });

  it('is undefined outside /v2', () => {
    expect(matchRoute('/healthz')).toBeUndefined();
    expect(matchRoute('/v3/app/tags/list')).toBeUndefined();
  });

  it('decodes each part after matching, so an encoded slash cannot move route boundaries', () => {
    expect(matchRoute('/v2/app/manifests/..%2F..%2Fetc')).toMatchObject({ kind: 'manifest', name: 'app', ref: '../../etc' });
    expect(matchRoute('/v2/app/blobs/uploads/..%2Fx')).toMatchObject({ kind: 'upload', name: 'app', ref: '../x' });
    expect(matchRoute('/v2/app/blobs/x%2Fmanifests%2Flatest')).toMatchObject({ kind: 'blob', name: 'app' });
  });

  it.each(['/v2/App/tags/list', '/v2/../etc/tags/list', '/v2/%2e%2e/x/tags/list', '/v2/a%2F..%2Fb/tags/list', '/v2/a//b/tags/list', '/v2/%zz/tags/list'])(
    '%s is NAME_INVALID',
    (path) => {
      expect(code(path)).toBe('NAME_INVALID');
    },
  );
});
