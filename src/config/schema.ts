import { z } from 'zod';
import { authSchema } from './auth-schema.js';
import { metricsSchema } from './metrics-schema.js';
import { storageSchema } from './storage-schema.js';
import { hostedNamespacesSchema, upstreamsSchema } from './upstreams-schema.js';

const serverSchema = z
  .object({
    host: z.string().default('0.0.0.0').describe('Address to listen on'),
    port: z.coerce.number().int().min(0).max(65535).default(5000).describe('Listen port; 0 picks a free port'),
    publicUrl: z.string().url().optional().describe('External base URL, used in token realms; default from the request'),
    shutdownTimeoutSeconds: z.coerce.number().positive().default(30).describe('Grace period for in-flight requests on SIGTERM'),
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
