import { describe, expect, it } from 'vitest';
import { splitRepositoryPath } from '../../../src/api/paths.js';
import { uiSchema } from '../../../src/config/ui-schema.js';
import { modeString } from '../../../src/ui/format.js';
import { escapeHtml, html, trusted } from '../../../src/ui/html.js';

describe('html templates escape by default', () => {
  it('escapes every interpolated value, in text and in quoted attributes', () => {
    const evil = `<script>alert(1)</script>" onmouseover='x' \`y\` &amp;`;
    const out = html`<p title="${evil}">${evil}</p>`.value;
    expect(out).not.toContain('<script>');
    expect(out).toBe(
      '<p title="&lt;script&gt;alert(1)&lt;/script&gt;&quot; onmouseover=&#39;x&#39; &#96;y&#96; &amp;amp;">&lt;script&gt;alert(1)&lt;/script&gt;&quot; onmouseover=&#39;x&#39; &#96;y&#96; &amp;amp;</p>',
    );
  });

  it('nests templates and arrays without double escaping; only trusted() passes markup through', () => {
    const items = ['<a>', 'b&c'].map((x) => html`<li>${x}</li>`);
    expect(html`<ul>${items}</ul>`.value).toBe('<ul><li>&lt;a&gt;</li><li>b&amp;c</li></ul>');
    expect(html`${trusted('<br>')}${'<br>'}`.value).toBe('<br>&lt;br&gt;');
    expect(html`${undefined}${null}${false}${0}`.value).toBe('0');
    expect(escapeHtml('plain')).toBe('plain');
  });
});

describe('page paths and config', () => {
  it('splits repository paths at the "-" segment and refuses invalid names', () => {
    expect(splitRepositoryPath('acme/team/app')).toEqual({ name: 'acme/team/app', sub: [] });
    expect(splitRepositoryPath('acme/app/-/images/v1')).toEqual({ name: 'acme/app', sub: ['images', 'v1'] });
    expect(splitRepositoryPath('a/-/layers/sha256%3Aab/files')).toEqual({ name: 'a', sub: ['layers', 'sha256:ab', 'files'] });
    for (const bad of ['Upper/x', '../etc', 'a/%ZZ', '']) expect(() => splitRepositoryPath(bad)).toThrow();
  });

  it('ui.path must be an absolute path outside the registry and API routes', () => {
    expect(uiSchema.parse({}).path).toBe('/ui');
    expect(uiSchema.parse({ path: '/registry/browse' }).path).toBe('/registry/browse');
    for (const bad of ['ui', '/v2', '/v2/ui', '/api', '/ui/', '/token']) expect(uiSchema.safeParse({ path: bad }).success, bad).toBe(false);
  });

  it('prints tar modes as tar -tv does', () => {
    expect(modeString('directory', 0o755)).toBe('drwxr-xr-x');
    expect(modeString('file', 0o600)).toBe('-rw-------');
    expect(modeString('symlink', 0o777)).toBe('lrwxrwxrwx');
  });
});
