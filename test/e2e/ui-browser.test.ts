import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations, launchChromium, screenshot } from '../helpers/browser.js';
import { Skopeo } from '../helpers/clients.js';
import { FakeHub } from '../helpers/fake-hub.js';
import { startMirror } from '../helpers/mirror.js';
import { OciLayout } from '../helpers/oci-layout.js';
import type { RunningRegistry } from '../helpers/registry.js';
import { fileHash, tarListing, writeTarImage, type TarImage } from '../helpers/tar-image.js';

/**
 * The pages in a real browser (Debian chromium through playwright-core): a pushed image and a mirrored
 * one (from a Docker-Hub-like fake upstream), found through the list and the search, and every fact on
 * the image page checked against what skopeo reports (inspect --raw / --config) and against the layer
 * files themselves. Also: accessibility (axe-core, headings, labels, keyboard), escaping of hostile
 * labels, and screenshots in test-artifacts/ui/.
 */

const XSS = '<script>alert(1)</script>';
const HOSTED = 'acme/webshop';
const MIRRORED = 'docker.io/library/nginxish';

let hub: FakeHub;
let reg: RunningRegistry;
let skopeo: Skopeo;
let browser: Browser;
let context: BrowserContext;
let work: string;
let pushed: TarImage;
let mirrored: TarImage;
const dialogs: string[] = [];

interface RawManifest {
  mediaType: string;
  layers: Array<{ digest: string; size: number; mediaType: string }>;
  annotations?: Record<string, string>;
  manifests?: Array<{ digest: string; platform: { os: string; architecture: string } }>;
}
interface RawConfig {
  created: string;
  os: string;
  architecture: string;
  config: { Labels?: Record<string, string> };
}

async function makeTree(root: string, files: Record<string, string>, links: Record<string, string> = {}): Promise<string> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
  }
  for (const [path, target] of Object.entries(links)) await symlink(target, join(root, path));
  return root;
}

async function waitListed(repo: string, ref: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(`${reg.url}/api/repositories/${repo}/-/images/${ref}`);
    const body = (await res.json()) as { layers?: Array<{ state: string }> };
    if (res.status === 200 && body.layers!.every((l) => l.state === 'ready')) return;
    if (Date.now() > deadline) throw new Error(`layers of ${repo}:${ref} not listed`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function field(page: Page, name: string): Promise<string> {
  return (await page.locator(`[data-field="${name}"]`).first().innerText()).trim();
}

/** Every fact on the image page, against skopeo's view of the same image and the layer files. */
async function checkImagePage(page: Page, repo: string, tag: string, image: TarImage, origin: string): Promise<void> {
  const ref = `docker://${reg.host}/${repo}:${tag}`;
  const rawText = (await skopeo.run(['inspect', '--raw', '--tls-verify=false', '--no-tags', ref])).stdout;
  const raw = JSON.parse(rawText) as RawManifest;
  const config = await skopeo.json<RawConfig>(['inspect', '--config', '--tls-verify=false', '--no-tags', ref]);
  const rawBytes = Buffer.from(rawText.replace(/\n$/, ''));

  expect(await page.locator('h1').innerText()).toBe(`${repo}:${tag}`);
  expect(await page.locator('#pull-command').innerText()).toBe(`docker pull ${reg.host}/${repo}:${tag}`);
  expect(await field(page, 'digest')).toBe(image.manifestDigest);
  expect(createHash('sha256').update(rawBytes).digest('hex')).toBe(image.manifestDigest.slice(7));
  expect(await field(page, 'media-type')).toBe(raw.mediaType);
  expect(await field(page, 'tags')).toBe(tag);
  expect(await field(page, 'origin')).toBe(origin);
  expect(await field(page, 'visibility')).toBe('public');
  expect(await field(page, 'platform')).toBe(`${config.os}/${config.architecture}`);
  expect(await field(page, 'created')).toBe(config.created);
  expect(await field(page, 'pushed')).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  const size = rawBytes.length + JSON.stringify(config).length * 0 + image.layers.reduce((a, l) => a + l.size, 0);
  expect(Number(await field(page, 'size')) - size).toBeGreaterThan(0); // + the config blob
  // Description, source and licenses: annotations of the manifest.
  expect(await page.locator('#description').innerText()).toBe(raw.annotations!['org.opencontainers.image.description']);
  expect(await field(page, 'source')).toBe(raw.annotations!['org.opencontainers.image.source']);
  expect(await page.locator('[data-field="source"] a').getAttribute('href')).toBe(raw.annotations!['org.opencontainers.image.source']);
  expect(await field(page, 'licenses')).toBe(raw.annotations!['org.opencontainers.image.licenses']);
  // Labels and annotations tables: every key and value, as text.
  const labels = await page.locator('#label-table tbody tr').allInnerTexts();
  expect(labels.map((r) => r.split('\t').map((c) => c.trim()))).toEqual(Object.entries(config.config.Labels ?? {}).sort(([a], [b]) => a.localeCompare(b)));
  const annotations = await page.locator('#annotation-table tbody tr').allInnerTexts();
  expect(annotations.map((r) => r.split('\t').map((c) => c.trim()))).toEqual(Object.entries(raw.annotations ?? {}).sort(([a], [b]) => a.localeCompare(b)));
  // Layers: digests and sizes as in the manifest; each layer's checksums as node:crypto computes them.
  expect(await page.locator('[data-field="layer-digest"]').allInnerTexts()).toEqual(raw.layers.map((l) => l.digest));
  expect((await page.locator('[data-field="layer-size"]').allInnerTexts()).map(Number)).toEqual(raw.layers.map((l) => l.size));
  for (const alg of ['md5', 'sha1', 'sha256', 'sha512']) {
    expect(await page.locator(`#manifest-checksums [data-field="${alg}"]`).innerText()).toBe(createHash(alg).update(rawBytes).digest('hex'));
    for (const [i, layer] of image.layers.entries()) {
      expect(await page.locator(`#layer-${i + 1}-checksums [data-field="${alg}"]`).innerText()).toBe(await fileHash(layer.blobPath, alg));
    }
  }
  // Files: the total and the first layer's entries, against tar -tv.
  let total = 0;
  for (const layer of image.layers) total += (await tarListing(layer.tarPath)).filter((e) => !e.mode.startsWith('d')).length;
  expect(Number(await field(page, 'total-files'))).toBe(total);
  const listing = await tarListing(image.layers[0]!.tarPath);
  const rows = await page.locator('#contents-1 tbody tr').allInnerTexts();
  expect(rows.map((r) => r.split('\t').map((c) => c.trim()))).toEqual(
    listing.slice(0, 20).map((e) => [e.mode, String(e.size), e.link ? `${e.path} → ${e.link}` : e.path]),
  );
  expect(await page.locator('#referrers-none').count()).toBe(1);
}

beforeAll(async () => {
  work = join(tmpdir(), `ui-browser-${randomBytes(4).toString('hex')}`);
  const root1 = await makeTree(join(work, 'p0'), { 'srv/www/index.html': '<h1>shop</h1>\n', 'srv/www/assets/app.js': 'console.log(1)\n', 'etc/shop/shop.conf': 'port=8080\n' }, { 'srv/current': 'www' });
  const root2 = await makeTree(join(work, 'p1'), { 'usr/lib/shop/lib.so': 'x'.repeat(5000), 'usr/share/doc/shop/README': 'read me\n' });
  await mkdir(join(work, 'p'), { recursive: true });
  pushed = await writeTarImage(join(work, 'pushed'), join(work, 'p'), 'v1', {
    layers: [
      { dir: root1, compression: 'gzip' },
      { dir: root2, compression: 'gzip' },
    ],
    labels: { 'org.opencontainers.image.vendor': 'Acme & Co', evil: XSS, maintainer: 'ops@acme.example' },
    annotations: {
      'org.opencontainers.image.description': `The Acme web shop ${XSS}`,
      'org.opencontainers.image.source': 'https://git.acme.example/shop',
      'org.opencontainers.image.licenses': 'Apache-2.0',
    },
  });
  const root3 = await makeTree(join(work, 'm0'), { 'usr/sbin/nginxish': '#!/bin/sh\n', 'etc/nginxish/nginxish.conf': 'worker_processes 1;\n' }, { 'etc/nginxish/default': 'nginxish.conf' });
  await mkdir(join(work, 'm'), { recursive: true });
  mirrored = await writeTarImage(join(work, 'upstream'), join(work, 'm'), '1.25', {
    layers: [{ dir: root3, compression: 'gzip' }],
    labels: { 'org.opencontainers.image.description': 'A web server, mirrored' },
    annotations: {
      'org.opencontainers.image.description': 'A web server, mirrored',
      'org.opencontainers.image.source': 'https://github.example/nginxish',
      'org.opencontainers.image.licenses': 'BSD-2-Clause',
    },
  });
  // A multi-arch index too, for the platforms table.
  const multi = await OciLayout.create(join(work, 'multi'));
  await multi.addIndex({ layerSizes: [2048], seed: 'ui-multi' }, 'multi');
  await multi.finish();

  hub = await FakeHub.start();
  await hub.addFromLayout(join(work, 'upstream'), 'library/nginxish', mirrored.manifestDigest, '1.25');
  // Hosted names beside a docker.io/ prefix mirrored from the fake hub.
  reg = await startMirror(hub.url, { default: false });
  skopeo = await Skopeo.create();
  await skopeo.run(['copy', '--preserve-digests', '--dest-tls-verify=false', `oci:${join(work, 'pushed')}:v1`, `docker://${reg.host}/${HOSTED}:v1`]);
  await skopeo.run(['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', multi.reference('multi'), `docker://${reg.host}/acme/multi:latest`]);
  // Pulling through the cache is what puts the mirrored image into the index.
  await skopeo.run(['copy', '--src-tls-verify=false', `docker://${reg.host}/${MIRRORED}:1.25`, `oci:${join(work, 'pulled')}:x`]);
  await fetch(`${reg.url}/api/repositories/${HOSTED}/-/images/v1`);
  await fetch(`${reg.url}/api/repositories/${MIRRORED}/-/images/1.25`);
  await waitListed(HOSTED, 'v1');
  await waitListed(MIRRORED, '1.25');
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.on('page', (p) => p.on('dialog', (d) => void (dialogs.push(d.message()), d.dismiss())));
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await reg?.close();
  await hub?.stop();
  await skopeo?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('pages in a real browser', () => {
  it('a pushed image: list, search, repository page, image page with every fact', async () => {
    const page = await context.newPage();
    await page.goto(`${reg.url}/ui/`);
    expect(await page.title()).toBe('Repositories · Registry');
    const names = await page.locator('#repositories tbody tr td:first-child a').allInnerTexts();
    expect(names.sort()).toEqual(['acme/multi', HOSTED, MIRRORED].sort());
    await screenshot(page, 'repository-list');
    await page.getByLabel('Search by name or description').fill('web shop');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=web/);
    expect(await page.locator('#repositories tbody tr td:first-child a').allInnerTexts()).toEqual([HOSTED]);
    await page.getByRole('link', { name: HOSTED }).click();
    await page.waitForURL(/\/ui\/repositories\/acme\/webshop$/);
    expect(await page.locator('h1').innerText()).toBe(HOSTED);
    const tagRow = await page.locator('#tags tbody tr').allInnerTexts();
    expect(tagRow).toHaveLength(1);
    expect(tagRow[0]).toContain('v1');
    expect(tagRow[0]).toContain('linux/amd64');
    await screenshot(page, 'repository');
    await page.getByRole('link', { name: 'v1', exact: true }).click();
    await page.waitForURL(/\/-\/images\/v1$/);
    await checkImagePage(page, HOSTED, 'v1', pushed, 'hosted');
    await screenshot(page, 'image-hosted');
    await page.close();
  });

  it('a mirrored image: found by its description, shown as mirrored from the upstream', async () => {
    const page = await context.newPage();
    await page.goto(`${reg.url}/ui/?q=${encodeURIComponent('web server')}`);
    expect(await page.locator('#repositories tbody tr td:first-child a').allInnerTexts()).toEqual([MIRRORED]);
    expect(await page.locator('#repositories tbody tr').first().innerText()).toContain('mirrored from hub');
    await page.getByRole('link', { name: MIRRORED }).click();
    await page.getByRole('link', { name: '1.25', exact: true }).click();
    await page.waitForURL(/\/-\/images\/1\.25$/);
    await checkImagePage(page, MIRRORED, '1.25', mirrored, 'mirrored from hub');
    expect(await page.locator('dt', { hasText: 'First cached' }).count()).toBe(1);
    await screenshot(page, 'image-mirrored');
    await page.close();
  });

  it('a multi-arch index lists its platforms, each linking to its image', async () => {
    const page = await context.newPage();
    await page.goto(`${reg.url}/ui/repositories/acme/multi/-/images/latest`);
    const raw = await skopeo.json<RawManifest>(['inspect', '--raw', '--tls-verify=false', '--no-tags', `docker://${reg.host}/acme/multi:latest`]);
    const rows = (await page.locator('#platform-table tbody tr').allInnerTexts()).map((r) => r.split('\t').map((c) => c.trim()));
    expect(rows.map((r) => [r[0], r[1]])).toEqual(raw.manifests!.map((m) => [`${m.platform.os}/${m.platform.architecture}`, m.digest]));
    await page.locator('#platform-table a').first().click();
    await page.waitForURL(/sha256/);
    expect(await field(page, 'platform')).toBe('linux/amd64');
    await page.close();
  });

  it('hostile labels render as text: no script element, no dialog', async () => {
    const page = await context.newPage();
    await page.goto(`${reg.url}/ui/repositories/${HOSTED}/-/images/v1`);
    const evilRow = page.locator('#label-table tbody tr', { hasText: 'evil' });
    expect((await evilRow.locator('td').nth(1).innerText()).trim()).toBe(XSS);
    expect(await page.locator('#description').innerText()).toContain(XSS);
    expect(await page.evaluate(() => document.querySelectorAll('script').length)).toBe(0);
    await page.goto(`${reg.url}/ui/?q=${encodeURIComponent(XSS)}`);
    expect(await page.evaluate(() => document.querySelectorAll('script').length)).toBe(0);
    expect(await page.locator('#q').inputValue()).toBe(XSS);
    expect(dialogs).toEqual([]);
    await page.close();
  });

  it('passes axe-core, has one h1 and ordered headings, labelled fields, and works from the keyboard', async () => {
    const page = await context.newPage();
    for (const path of ['/ui/', `/ui/repositories/${HOSTED}`, `/ui/repositories/${HOSTED}/-/images/v1`, `/ui/repositories/${MIRRORED}/-/images/1.25`, `/ui/repositories/${HOSTED}/-/layers/${pushed.layers[0]!.digest}/files`]) {
      await page.goto(`${reg.url}${path}`);
      const violations = await axeViolations(page);
      expect(violations, `${path}: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
      const levels = await page.evaluate(() => [...document.querySelectorAll('h1,h2,h3,h4')].map((h) => Number(h.tagName[1])));
      expect(levels.filter((l) => l === 1)).toHaveLength(1);
      for (let i = 1; i < levels.length; i++) expect(levels[i]! - levels[i - 1]!).toBeLessThanOrEqual(1);
    }
    // Keyboard only: Tab to the repository's link, Enter follows it.
    await page.goto(`${reg.url}/ui/`);
    let focused = '';
    for (let i = 0; i < 15 && focused !== HOSTED; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => (document.activeElement as HTMLElement | null)?.innerText ?? '');
    }
    expect(focused).toBe(HOSTED);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/ui\/repositories\/acme\/webshop$/);
    // The first Tab reaches the skip link, which moves focus to the content.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    // And the search form is usable from the keyboard.
    await page.goto(`${reg.url}/ui/`);
    await page.locator('#q').focus();
    await page.keyboard.type('nginx');
    await page.keyboard.press('Enter');
    await page.waitForURL(/q=nginx/);
    expect(await page.locator('#repositories tbody tr td:first-child a').allInnerTexts()).toEqual([MIRRORED]);
    await page.close();
  });
});
