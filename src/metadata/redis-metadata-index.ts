import { isDigest, type Digest } from '../oci/digest.js';
import type { Descriptor, Page } from '../oci/types.js';
import type { ContentOrigin, ManifestRecord, MetadataIndex } from './metadata-index.js';

// Moves a tag atomically: the tag's digest, the repository's sorted tag set, the digest's reverse set
// (tagsFor without reading every tag) and the catalog. Keys derived from ARGV: one Redis, not a cluster.
const SET_TAG = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then redis.call('SREM', ARGV[4] .. old, ARGV[1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('SADD', ARGV[4] .. ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], 0, ARGV[3])
return 1`;
const DELETE_TAG = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SREM', ARGV[2] .. old, ARGV[1])
return 1`;
const ADD_MANIFEST = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[3], 0, ARGV[4])
return 1`;

/** The Redis calls the index makes (coordination/redis-connection.ts provides them): no import upward. */
export interface RedisCommands {
  cmd<T = unknown>(args: readonly string[]): Promise<T>;
  script<T = unknown>(lua: string, keys: readonly string[], args: readonly string[]): Promise<T>;
}

/**
 * MetadataIndex in Redis, shared by replicas (run Redis with appendonly for durability). The catalog and
 * each repository's tags are sorted sets of equal score, so a page is ZRANGEBYLEX … LIMIT 0 n:
 * O(log N + page), whatever the store holds. Records and links are hashes per repository.
 */
export class RedisMetadataIndex implements MetadataIndex {
  constructor(
    private readonly redis: RedisCommands,
    private readonly prefix: string,
  ) {}

  async resolveTag(repo: string, tag: string): Promise<Digest | undefined> {
    const v = await this.redis.cmd<string | null>(['HGET', this.k(repo, 'tag'), tag]);
    return v && isDigest(v) ? v : undefined;
  }

  async setTag(repo: string, tag: string, d: Digest): Promise<void> {
    await this.redis.script(SET_TAG, [this.k(repo, 'tag'), this.k(repo, 'tags'), this.reposKey], [tag, d, repo, this.k(repo, 'bytag:')]);
  }

  async deleteTag(repo: string, tag: string): Promise<boolean> {
    return (await this.redis.script<number>(DELETE_TAG, [this.k(repo, 'tag'), this.k(repo, 'tags')], [tag, this.k(repo, 'bytag:')])) === 1;
  }

  async listTags(repo: string, page: Page): Promise<string[] | undefined> {
    if (!(await this.repositoryExists(repo))) return undefined;
    return this.pageOf(this.k(repo, 'tags'), page);
  }

  async tagsFor(repo: string, d: Digest): Promise<string[]> {
    const tags = await this.redis.cmd<string[]>(['SMEMBERS', this.k(repo, `bytag:${d}`)]);
    return tags.sort();
  }

  listRepositories(page: Page): Promise<string[]> {
    return this.pageOf(this.reposKey, page);
  }

  async repositoryExists(repo: string): Promise<boolean> {
    return (await this.redis.cmd<string | null>(['ZSCORE', this.reposKey, repo])) !== null;
  }

  async addManifest(repo: string, record: ManifestRecord): Promise<void> {
    // First-seen time kept in its own hash (HSETNX): a re-push must not move "pushed at".
    const { createdAt, ...rest } = record;
    await this.redis.script(ADD_MANIFEST, [this.k(repo, 'manifests'), this.k(repo, 'created'), this.reposKey], [record.digest, JSON.stringify(rest), String(createdAt), repo]);
  }

  async getManifest(repo: string, d: Digest): Promise<ManifestRecord | undefined> {
    const [json, created] = await Promise.all([
      this.redis.cmd<string | null>(['HGET', this.k(repo, 'manifests'), d]),
      this.redis.cmd<string | null>(['HGET', this.k(repo, 'created'), d]),
    ]);
    return json ? withCreated(json, created) : undefined;
  }

  async deleteManifest(repo: string, d: Digest): Promise<boolean> {
    const removed = await this.redis.cmd<number>(['HDEL', this.k(repo, 'manifests'), d]);
    await this.redis.cmd(['HDEL', this.k(repo, 'created'), d]);
    return removed === 1;
  }

  async listManifests(repo: string): Promise<ManifestRecord[]> {
    const [all, created] = await Promise.all([this.hash(this.k(repo, 'manifests')), this.hash(this.k(repo, 'created'))]);
    return [...all].map(([d, json]) => withCreated(json, created.get(d) ?? null));
  }

  async linkBlob(repo: string, d: Digest, origin: ContentOrigin = 'hosted'): Promise<void> {
    await this.redis.cmd(['HSETNX', this.k(repo, 'blobs'), d, origin]);
    await this.redis.cmd(['SADD', `${this.prefix}linked`, repo]);
  }

  async hasBlob(repo: string, d: Digest): Promise<boolean> {
    return (await this.redis.cmd<number>(['HEXISTS', this.k(repo, 'blobs'), d])) === 1;
  }

  async unlinkBlob(repo: string, d: Digest): Promise<boolean> {
    return (await this.redis.cmd<number>(['HDEL', this.k(repo, 'blobs'), d])) === 1;
  }

  async listBlobLinks(): Promise<Array<{ repo: string; digest: Digest; origin: ContentOrigin }>> {
    const out: Array<{ repo: string; digest: Digest; origin: ContentOrigin }> = [];
    for (const repo of await this.redis.cmd<string[]>(['SMEMBERS', `${this.prefix}linked`])) {
      for (const [d, origin] of await this.hash(this.k(repo, 'blobs'))) {
        if (isDigest(d)) out.push({ repo, digest: d, origin: origin === 'cached' ? 'cached' : 'hosted' });
      }
    }
    return out;
  }

  async addReferrer(repo: string, subject: Digest, descriptor: Descriptor): Promise<void> {
    await this.redis.cmd(['HSET', this.k(repo, `ref:${subject}`), descriptor.digest, JSON.stringify(descriptor)]);
  }

  async removeReferrer(repo: string, subject: Digest, d: Digest): Promise<void> {
    await this.redis.cmd(['HDEL', this.k(repo, `ref:${subject}`), d]);
  }

  async referrers(repo: string, subject: Digest): Promise<Descriptor[]> {
    const all = await this.hash(this.k(repo, `ref:${subject}`));
    return [...all.keys()].sort().map((d) => JSON.parse(all.get(d)!) as Descriptor);
  }

  private async pageOf(key: string, page: Page): Promise<string[]> {
    const from = page.last === undefined ? '-' : `(${page.last}`;
    const limit = page.n === undefined ? [] : ['LIMIT', '0', String(page.n)];
    if (page.n === 0) return [];
    return this.redis.cmd<string[]>(['ZRANGEBYLEX', key, from, '+', ...limit]);
  }

  private async hash(key: string): Promise<Map<string, string>> {
    const reply = await this.redis.cmd<string[] | Record<string, string> | Map<string, string>>(['HGETALL', key]);
    if (reply instanceof Map) return reply;
    if (!Array.isArray(reply)) return new Map(Object.entries(reply));
    const out = new Map<string, string>();
    for (let i = 0; i + 1 < reply.length; i += 2) out.set(reply[i]!, reply[i + 1]!);
    return out;
  }

  private get reposKey(): string {
    return `${this.prefix}repos`;
  }

  private k(repo: string, what: string): string {
    return `${this.prefix}r:${repo}:${what}`;
  }
}

function withCreated(json: string, created: string | null): ManifestRecord {
  const record = JSON.parse(json) as Omit<ManifestRecord, 'createdAt'>;
  return { ...record, createdAt: created === null ? 0 : Number(created) };
}
