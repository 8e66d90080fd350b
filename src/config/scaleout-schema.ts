import { z } from 'zod';

/** Where the manifest/tag index lives: files under the data folder, or Redis shared by replicas. */
export const metadataSchema = z
  .object({
    driver: z.enum(['filesystem', 'redis']).default('filesystem').describe('filesystem: files under dataDir (one host); redis: shared by replicas'),
    redisUrl: z.string().optional().describe('redis://host:port of the index (driver redis); default cache.redisUrl'),
    keyPrefix: z.string().default('registry:').describe('Prefix of every index key in Redis'),
  })
  .strict()
  .default({});

/** How workers and replicas agree: mirror fill ownership (leases) and cache invalidation. */
export const coordinationSchema = z
  .object({
    redisUrl: z.string().optional().describe('redis://host:port shared by replicas; default metadata.redisUrl, then cache.redisUrl'),
    keyPrefix: z.string().default('registry:coord:').describe('Prefix of lock keys and channels in Redis'),
    leaseSeconds: z.coerce.number().positive().max(300).default(10).describe('A mirror fill whose owner stopped renewing is taken over after this'),
    staleBoundMs: z.coerce.number().int().min(0).max(1000).default(1000).describe('Longest a worker serves a tag from its in-process cache without asking the index, when shared'),
  })
  .strict()
  .default({});

export type MetadataConfig = z.infer<typeof metadataSchema>;
export type CoordinationConfig = z.infer<typeof coordinationSchema>;
