import type { MetadataIndex } from '../metadata/metadata-index.js';
import { topics, type Coordinator } from './coordinator.js';

/**
 * The index as writers see it when other processes share the store: a tag moved or deleted, or a
 * manifest deleted, is announced to every other process once the index holds it and before the writer
 * answers its client, so their in-process caches drop it (read-your-writes across workers and replicas).
 * Every other method passes straight through. With nobody to tell (one worker) the index is returned as is.
 */
export function withInvalidation(index: MetadataIndex, coordinator: Coordinator): MetadataIndex {
  if (!coordinator.shared) return index;
  const overrides: Partial<MetadataIndex> = {
    async setTag(repo, tag, d) {
      await index.setTag(repo, tag, d);
      await coordinator.invalidate(topics.tag(repo, tag));
    },
    async deleteTag(repo, tag) {
      const removed = await index.deleteTag(repo, tag);
      await coordinator.invalidate(topics.tag(repo, tag));
      return removed;
    },
    async deleteManifest(repo, d) {
      const removed = await index.deleteManifest(repo, d);
      await coordinator.invalidate(topics.manifest(repo, d));
      return removed;
    },
  };
  return new Proxy(index, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && prop in overrides) return overrides[prop as keyof MetadataIndex];
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
