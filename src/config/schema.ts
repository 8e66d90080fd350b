import { z } from 'zod';
import { authSchema } from './auth-schema.js';
import { metricsSchema } from './metrics-schema.js';
import { hostedNamespacesSchema, upstreamsSchema } from './upstreams-schema.js';

const serverSchema = z
  .object({
    host: z.string().default('0.0.0.0').describe('Address to listen on'),
    port: z.coerce.number().int().min(0).max(65535).default(5000).describe('Listen port; 0 picks a free port'),
    publicUrl: z.string().url().optional().describe('External base URL, used in token realms; default from the request'),
    shutdownTimeoutSeconds: z.coerce.number().positive().default(30).describe('Grace period for in-flight requests on SIGTERM'),
  })
  .strict();

const storageSchema = z
  .object({
    dataDir: z.string().min(1).default('./data').describe('Data folder: blobs, index, uploads, users, keys'),
    deleteEnabled: z.boolean().default(true).describe('Allow DELETE of manifests, tags and blobs'),
    maxManifestBytes: z.coerce.number().int().positive().default(4 * 1024 * 1024).describe('Largest accepted manifest'),
    uploadExpirySeconds: z.coerce.number().int().positive().default(24 * 3600).describe('Abandoned uploads are removed after this'),
  })
  .strict();

const cacheSchema = z
  .object({
    redisUrl: z.string().optional().describe('redis://host:port for shared tokens and tag freshness; memory when unset'),
    manifestCacheEntries: z.coerce.number().int().nonnegative().default(10000).describe('In-process hot manifest cache size'),
  })
  .strict();

const logSchema = z
  .object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict();

export const configSchema = z
  .object({
    server: serverSchema.default({}),
    storage: storageSchema.default({}),
    cache: cacheSchema.default({}),
    log: logSchema.default({}),
    upstreams: upstreamsSchema,
    hostedNamespaces: hostedNamespacesSchema,
    auth: authSchema,
    metrics: metricsSchema,
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
