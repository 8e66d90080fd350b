import type { FileEntry, ImageView, LayerView, RepositorySummary, TagRow } from '../readmodel/read-model.js';
import { bytes, date, modeString, shortDigest } from './format.js';
import { html, type SafeHtml } from './html.js';
import { page, type PageContext } from './layout.js';

function origin(r: { origin: string; upstream?: string }): SafeHtml {
  return r.origin === 'mirrored' ? html`<span class="badge">mirrored</span>${r.upstream ? html` from <strong>${r.upstream}</strong>` : ''}` : html`<span class="badge">hosted</span>`;
}

/** Only http(s) sources become links: an annotation is attacker-controlled and may say javascript:. */
function maybeLink(value: string | undefined): SafeHtml | string {
  if (value === undefined) return '—';
  return /^https?:\/\//i.test(value) ? html`<a href="${value}" rel="noopener noreferrer nofollow">${value}</a>` : value;
}

export function repositoryListPage(ctx: PageContext, q: string | undefined, items: RepositorySummary[], next: string | undefined): string {
  const p = ctx.paths;
  const rows = items.map(
    (r) => html`<tr>
      <td><a href="${p.repository(r.name)}">${r.name}</a>${r.description ? html`<div class="muted">${r.description}</div>` : ''}</td>
      <td>${origin(r)}</td>
      <td>${r.visibility}</td>
      <td class="num">${r.tagCount}</td>
      <td class="num">${bytes(r.size)}</td>
      <td class="num">${r.downloads}</td>
      <td>${date(r.updatedAt)}</td>
    </tr>`,
  );
  return page(
    ctx,
    'Repositories',
    html`<h1>Repositories</h1>
<form class="search" method="get" action="${p.home()}" role="search">
  <label for="q">Search by name or description</label>
  <input id="q" name="q" type="search" value="${q ?? ''}">
  <button type="submit">Search</button>
</form>
${
  items.length === 0
    ? html`<p id="no-results">No repositories${q ? html` match <strong>${q}</strong>` : ''}.</p>`
    : html`<table id="repositories">
  <caption>${q ? html`Repositories matching “${q}”` : 'All repositories you may pull'}</caption>
  <thead><tr><th scope="col">Name</th><th scope="col">Origin</th><th scope="col">Visibility</th><th scope="col" class="num">Tags</th><th scope="col" class="num">Size</th><th scope="col" class="num">Downloads</th><th scope="col">Last push or cache</th></tr></thead>
  <tbody>${rows}</tbody>
</table>`
}
${next ? html`<nav class="pager" aria-label="Pages"><a href="${p.home(q, next)}" rel="next">Next page</a></nav>` : ''}`,
  );
}

export function repositoryPage(ctx: PageContext, r: RepositorySummary, tags: TagRow[], next: string | undefined): string {
  const p = ctx.paths;
  const rows = tags.map(
    (t) => html`<tr>
      <td><a href="${p.image(r.name, t.tag)}">${t.tag}</a></td>
      <td><code title="${t.digest}">${shortDigest(t.digest)}</code></td>
      <td>${t.platforms.join(', ') || '—'}</td>
      <td class="num">${bytes(t.size)}</td>
      <td>${date(t.createdAt)}</td>
    </tr>`,
  );
  return page(
    ctx,
    r.name,
    html`<h1>${r.name}</h1>
<p>${origin(r)} <span class="badge">${r.visibility}</span></p>
${r.description ? html`<p id="description">${r.description}</p>` : ''}
<dl class="facts">
  <dt>Tags</dt><dd>${r.tagCount}</dd>
  <dt>Size</dt><dd>${bytes(r.size)}</dd>
  <dt>Downloads</dt><dd>${r.downloads}</dd>
  <dt>Last push or cache</dt><dd>${date(r.updatedAt)}</dd>
</dl>
<h2>Tags</h2>
<table id="tags">
  <caption class="muted">Tags of ${r.name}</caption>
  <thead><tr><th scope="col">Tag</th><th scope="col">Digest</th><th scope="col">Platforms</th><th scope="col" class="num">Size</th><th scope="col">Pushed or cached</th></tr></thead>
  <tbody>${rows}</tbody>
</table>
${next ? html`<nav class="pager" aria-label="Pages"><a href="${p.repository(r.name, next)}" rel="next">Next tags</a></nav>` : ''}`,
  );
}

function keyValueTable(id: string, caption: string, record: Record<string, string>): SafeHtml {
  const entries = Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return html`<p id="${id}-none" class="muted">None.</p>`;
  return html`<table id="${id}">
  <caption class="muted">${caption}</caption>
  <thead><tr><th scope="col">Key</th><th scope="col">Value</th></tr></thead>
  <tbody>${entries.map(([k, v]) => html`<tr><td><code>${k}</code></td><td>${v}</td></tr>`)}</tbody>
</table>`;
}

function checksumList(id: string, c: { md5: string; sha1: string; sha256: string; sha512: string }): SafeHtml {
  return html`<dl class="facts" id="${id}">
  <dt>MD5</dt><dd><code data-field="md5">${c.md5}</code></dd>
  <dt>SHA1</dt><dd><code data-field="sha1">${c.sha1}</code></dd>
  <dt>SHA256</dt><dd><code data-field="sha256">${c.sha256}</code></dd>
  <dt>SHA512</dt><dd><code data-field="sha512">${c.sha512}</code></dd>
</dl>`;
}

function layerStatus(l: LayerView): SafeHtml | string {
  if (l.state === 'ready') return l.listed ? `${l.files} files` : html`<span class="muted">not listed: ${l.reason ?? ''}</span>`;
  if (l.state === 'pending') return html`<span class="muted">being listed; reload to see</span>`;
  return html`<span class="muted">${l.reason ?? l.state}</span>`;
}

export function imagePage(ctx: PageContext, v: ImageView, pull: string, previews: Map<string, FileEntry[]>): string {
  const p = ctx.paths;
  const title = `${v.repository}${v.reference.includes(':') ? '@' : ':'}${v.reference}`;
  const layers = v.layers.map(
    (l, i) => html`<tr>
      <td class="num">${i + 1}</td>
      <td><code data-field="layer-digest">${l.digest}</code><div class="muted">${l.mediaType}</div></td>
      <td class="num" data-field="layer-size">${l.size}</td>
      <td>${layerStatus(l)}${l.state === 'ready' && l.listed ? html` · <a href="${p.files(v.repository, l.digest)}">Files of layer ${i + 1}</a>` : ''}</td>
    </tr>`,
  );
  const layerChecksums = v.layers.map(
    (l, i) => html`<h3>Layer ${i + 1}</h3>${l.checksums ? checksumList(`layer-${i + 1}-checksums`, l.checksums) : html`<p class="muted">Not computed yet.</p>`}`,
  );
  const contents = v.layers.map((l, i) => {
    const files = previews.get(l.digest);
    if (!files) return html``;
    return html`<h3>Layer ${i + 1} <span class="muted">(${l.entries ?? 0} entries)</span></h3>
${fileTable(`contents-${i + 1}`, `First entries of layer ${i + 1}`, files)}
<p><a href="${p.files(v.repository, l.digest)}">All files of layer ${i + 1}</a></p>`;
  });
  return page(
    ctx,
    title,
    html`<h1>${title}</h1>
<p>${origin(v)} <span class="badge" id="visibility">${v.visibility}</span> <a href="${p.repository(v.repository)}">All tags of ${v.repository}</a></p>
<h2 id="installation">Installation</h2>
<pre class="pull"><code id="pull-command">docker pull ${pull}</code></pre>
<h2 id="about">About this version</h2>
<p id="description">${v.description ?? html`<span class="muted">No description.</span>`}</p>
<dl class="facts">
  <dt>Source</dt><dd data-field="source">${maybeLink(v.source)}</dd>
  <dt>Licenses</dt><dd data-field="licenses">${v.licenses ?? '—'}</dd>
</dl>
<h2 id="details">Details</h2>
<dl class="facts" id="facts">
  <dt>Repository</dt><dd data-field="repository">${v.repository}</dd>
  <dt>Digest</dt><dd><code data-field="digest">${v.digest}</code></dd>
  <dt>Media type</dt><dd data-field="media-type">${v.mediaType}</dd>
  <dt>Tags</dt><dd data-field="tags">${v.tags.join(', ') || '—'}</dd>
  <dt>Visibility</dt><dd data-field="visibility">${v.visibility}</dd>
  <dt>Origin</dt><dd data-field="origin">${v.origin}${v.upstream ? html` from ${v.upstream}` : ''}</dd>
  <dt>${v.origin === 'mirrored' ? 'First cached' : 'Pushed'}</dt><dd data-field="pushed">${date(v.createdAt)}</dd>
  ${v.created ? html`<dt>Built</dt><dd data-field="created">${v.created}</dd>` : ''}
  ${v.platform ? html`<dt>Platform</dt><dd data-field="platform">${v.platform}</dd>` : ''}
  <dt>Size</dt><dd><span data-field="size">${v.size}</span> bytes (${bytes(v.size)})</dd>
  <dt>Total files</dt><dd data-field="total-files">${v.totalFiles ?? 'being counted'}</dd>
  <dt>Downloads</dt><dd><span data-field="downloads">${v.downloads.image}</span> of this version, <span data-field="repository-downloads">${v.downloads.repository}</span> of the repository</dd>
</dl>
<h2 id="checksums">Checksums</h2>
<h3>Manifest</h3>
${checksumList('manifest-checksums', v.checksums)}
${layerChecksums}
${
  v.platforms.length > 0
    ? html`<h2 id="platforms">Platforms</h2>
<table id="platform-table">
  <caption class="muted">Images in this index</caption>
  <thead><tr><th scope="col">Platform</th><th scope="col">Digest</th><th scope="col" class="num">Manifest size</th></tr></thead>
  <tbody>${v.platforms.map((c) => html`<tr><td>${c.platform}</td><td><a href="${p.image(v.repository, c.digest)}"><code>${c.digest}</code></a></td><td class="num">${c.size}</td></tr>`)}</tbody>
</table>`
    : ''
}
<h2 id="labels">Labels</h2>
${keyValueTable('label-table', 'Labels from the image config', v.labels)}
<h2 id="annotations">Annotations</h2>
${keyValueTable('annotation-table', 'Annotations of the manifest', v.annotations)}
${
  v.kind === 'image'
    ? html`<h2 id="layers">Layers</h2>
<table id="layer-table">
  <caption class="muted">Layers in order, sizes in bytes as stored</caption>
  <thead><tr><th scope="col" class="num">#</th><th scope="col">Digest</th><th scope="col" class="num">Size</th><th scope="col">Files</th></tr></thead>
  <tbody>${layers}</tbody>
</table>
<h2 id="contents">Contents</h2>
${contents}`
    : ''
}
<h2 id="referrers">Referrers</h2>
${
  v.referrers.length === 0
    ? html`<p class="muted" id="referrers-none">No signatures, SBOMs or other artifacts refer to this image.</p>`
    : html`<table id="referrer-table">
  <caption class="muted">Artifacts that refer to this image (signatures, SBOMs)</caption>
  <thead><tr><th scope="col">Artifact type</th><th scope="col">Digest</th><th scope="col" class="num">Size</th></tr></thead>
  <tbody>${v.referrers.map((r) => html`<tr><td>${r.artifactType ?? r.mediaType}</td><td><a href="${p.image(v.repository, r.digest)}"><code>${r.digest}</code></a></td><td class="num">${r.size}</td></tr>`)}</tbody>
</table>`
}`,
  );
}

function fileTable(id: string, caption: string, files: FileEntry[]): SafeHtml {
  return html`<table id="${id}" class="files">
  <caption class="muted">${caption}</caption>
  <thead><tr><th scope="col">Mode</th><th scope="col" class="num">Size</th><th scope="col">Path</th></tr></thead>
  <tbody>${files.map((f) => html`<tr><td><code>${modeString(f.type, f.mode)}</code></td><td class="num">${f.size}</td><td><code>${f.path}${f.linkname ? html` → ${f.linkname}` : ''}</code></td></tr>`)}</tbody>
</table>`;
}

export function filesPage(ctx: PageContext, repo: string, layer: string, offset: number, files: FileEntry[], total: number | undefined, limit: number, reason?: string): string {
  const p = ctx.paths;
  const more = total !== undefined && offset + files.length < total;
  return page(
    ctx,
    `Files of ${shortDigest(layer)}`,
    html`<h1>Files of a layer of ${repo}</h1>
<p><code>${layer}</code></p>
${total === undefined ? html`<p>This layer is being listed; reload to see its files.</p>` : reason ? html`<p>Not listed: ${reason}</p>` : html`<p>Entries ${files.length === 0 ? 0 : offset + 1}–${offset + files.length} of ${total}</p>`}
${fileTable('files', 'Path, size and mode of each entry', files)}
<nav class="pager" aria-label="Pages">
  ${offset > 0 ? html`<a href="${p.files(repo, layer, Math.max(0, offset - limit))}" rel="prev">Previous files</a>` : ''}
  ${more ? html`<a href="${p.files(repo, layer, offset + limit)}" rel="next">Next files</a>` : ''}
</nav>`,
  );
}

export function signInPage(ctx: PageContext, error?: string): string {
  return page(
    ctx,
    'Sign in',
    html`<h1>Sign in</h1>
<p>Use your registry user name with your password or an access token.</p>
${error ? html`<p class="error" role="alert" id="sign-in-error">${error}</p>` : ''}
<form class="signin" method="post" action="${ctx.paths.signIn}">
  <label for="username">User name</label>
  <input id="username" name="username" autocomplete="username" required>
  <label for="password">Password or access token</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Sign in</button>
</form>`,
  );
}

export function errorPage(ctx: PageContext, title: string, message: string): string {
  return page(ctx, title, html`<h1>${title}</h1><p>${message}</p><p><a href="${ctx.paths.home()}">All repositories</a></p>`);
}
