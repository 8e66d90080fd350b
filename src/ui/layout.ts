import { namePath } from '../api/paths.js';
import { html, type SafeHtml } from './html.js';

/** Builds the pages' URLs under the configured base path. */
export class UiPaths {
  constructor(readonly base: string) {}
  home(q?: string, last?: string): string {
    const params = new URLSearchParams();
    if (q) params.set('q', q);
    if (last) params.set('last', last);
    const s = params.toString();
    return `${this.base}/${s ? `?${s}` : ''}`;
  }
  repository(name: string, last?: string): string {
    return `${this.base}/repositories/${namePath(name)}${last ? `?last=${encodeURIComponent(last)}` : ''}`;
  }
  image(name: string, ref: string): string {
    return `${this.base}/repositories/${namePath(name)}/-/images/${encodeURIComponent(ref)}`;
  }
  files(name: string, layer: string, offset = 0): string {
    return `${this.base}/repositories/${namePath(name)}/-/layers/${encodeURIComponent(layer)}/files${offset ? `?offset=${offset}` : ''}`;
  }
  get signIn(): string {
    return `${this.base}/sign-in`;
  }
  get signOut(): string {
    return `${this.base}/sign-out`;
  }
  get style(): string {
    return `${this.base}/static/style.css`;
  }
}

export interface PageContext {
  paths: UiPaths;
  subject: string | null;
  signInEnabled: boolean;
}

export function page(ctx: PageContext, title: string, body: SafeHtml): string {
  const p = ctx.paths;
  const account = !ctx.signInEnabled
    ? html``
    : ctx.subject !== null
      ? html`<span>Signed in as <strong>${ctx.subject}</strong></span>
          <form method="post" action="${p.signOut}"><button type="submit">Sign out</button></form>`
      : html`<a href="${p.signIn}">Sign in</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Registry</title>
<link rel="stylesheet" href="${p.style}">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="site">
  <a href="${p.home()}">Registry</a>
  <nav aria-label="Account">${account}</nav>
</header>
<main id="main">
${body}
</main>
</body>
</html>
`.value;
}
