import { join, resolve } from 'node:path';
import { digestParts, type Digest } from '../oci/digest.js';

/**
 * The one place that knows the data folder's layout. Every path is built from
 * validated digests, repository names and generated ids, so nothing escapes the root.
 *
 *   blobs/<alg>/<hex[0..2]>/<hex>        content, manifests included
 *   repositories/<name>/_tags/<tag>      tag → digest
 *   repositories/<name>/_manifests/<alg>/<hex>   manifest record (JSON)
 *   repositories/<name>/_layers/<alg>/<hex>      blob link
 *   repositories/<name>/_referrers/<alg>/<hex>/<alg>-<hex>   referrer descriptor
 *   uploads/<id>/data, uploads/<id>/info.json
 *   index/repositories.log               catalog: +name / -name lines, appended
 *   tmp/                                 temp files, renamed into place
 */
export class Layout {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  get tmpDir(): string {
    return join(this.root, 'tmp');
  }
  get blobsDir(): string {
    return join(this.root, 'blobs');
  }
  get repositoriesDir(): string {
    return join(this.root, 'repositories');
  }
  get uploadsDir(): string {
    return join(this.root, 'uploads');
  }
  /** Append-only log of repository names (+name / -name): the catalog's sorted index. */
  get catalogLog(): string {
    return join(this.root, 'index', 'repositories.log');
  }

  blob(d: Digest): string {
    const { algorithm, hex } = digestParts(d);
    return join(this.blobsDir, algorithm, hex.slice(0, 2), hex);
  }

  repository(name: string): string {
    return join(this.repositoriesDir, ...name.split('/'));
  }
  tagsDir(repo: string): string {
    return join(this.repository(repo), '_tags');
  }
  tag(repo: string, tag: string): string {
    return join(this.tagsDir(repo), tag);
  }
  manifestsDir(repo: string): string {
    return join(this.repository(repo), '_manifests');
  }
  manifest(repo: string, d: Digest): string {
    const { algorithm, hex } = digestParts(d);
    return join(this.manifestsDir(repo), algorithm, hex);
  }
  blobLink(repo: string, d: Digest): string {
    const { algorithm, hex } = digestParts(d);
    return join(this.repository(repo), '_layers', algorithm, hex);
  }
  referrersDir(repo: string, subject: Digest): string {
    const { algorithm, hex } = digestParts(subject);
    return join(this.repository(repo), '_referrers', algorithm, hex);
  }
  referrer(repo: string, subject: Digest, d: Digest): string {
    const { algorithm, hex } = digestParts(d);
    return join(this.referrersDir(repo, subject), `${algorithm}-${hex}`);
  }

  upload(id: string): string {
    return join(this.uploadsDir, id);
  }
}
