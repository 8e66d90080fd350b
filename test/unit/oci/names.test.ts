import { describe, expect, it } from 'vitest';
import { isOciError } from '../../../src/oci/errors.js';
import { MAX_NAME_LENGTH, isValidName, isValidTag, parseName, parseTag } from '../../../src/oci/names.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isOciError(err) ? err.code : 'not-an-oci-error';
  }
  return undefined;
}

describe('repository names', () => {
  it.each(['app', 'myorg/app', 'myorg/team/app', 'a/b/c/d/e/f/g', 'my-app', 'my--app', 'my_app', 'my__app', 'my.app', 'app2/v1.0', '0'])(
    'accepts %s',
    (name) => {
      expect(isValidName(name)).toBe(true);
      expect(parseName(name)).toBe(name);
    },
  );

  it.each([
    ['empty', ''],
    ['uppercase', 'MyApp'],
    ['parent segment', '..'],
    ['parent inside', 'a/../b'],
    ['current segment', 'a/./b'],
    ['leading slash', '/app'],
    ['trailing slash', 'app/'],
    ['double slash', 'a//b'],
    ['leading separator', '-app'],
    ['trailing separator', 'app-'],
    ['triple underscore', 'a___b'],
    ['double dot', 'a..b'],
    ['colon', 'app:latest'],
    ['at', 'app@sha256'],
    ['space', 'my app'],
    ['backslash', 'a\\b'],
    ['reserved-looking', '_tags'],
    ['newline', 'app\n'],
  ])('rejects %s with NAME_INVALID', (_label, name) => {
    expect(isValidName(name)).toBe(false);
    expect(codeOf(() => parseName(name))).toBe('NAME_INVALID');
  });

  it('limits the length', () => {
    const ok = `${'a'.repeat(100)}/${'b'.repeat(MAX_NAME_LENGTH - 101)}`;
    expect(ok.length).toBe(MAX_NAME_LENGTH);
    expect(isValidName(ok)).toBe(true);
    expect(isValidName(`${ok}c`)).toBe(false);
    expect(codeOf(() => parseName('a'.repeat(MAX_NAME_LENGTH + 1)))).toBe('NAME_INVALID');
  });
});

describe('tags', () => {
  it.each(['latest', 'v1.0.0', 'V1', '_private', '1', 'a-b_c.d', 'x'.repeat(128)])('accepts %s', (tag) => {
    expect(isValidTag(tag)).toBe(true);
    expect(parseTag(tag)).toBe(tag);
  });

  it.each([
    ['empty', ''],
    ['too long', 'x'.repeat(129)],
    ['leading dot', '.hidden'],
    ['leading dash', '-x'],
    ['parent', '..'],
    ['slash', 'a/b'],
    ['colon', 'a:b'],
    ['digest-like', `sha256:${'a'.repeat(64)}`],
    ['plus', 'v1+build'],
  ])('rejects %s', (_label, tag) => {
    expect(isValidTag(tag)).toBe(false);
    expect(codeOf(() => parseTag(tag))).toBe('MANIFEST_INVALID');
  });
});
