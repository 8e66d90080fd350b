import { z } from 'zod';
import { authSchema } from './auth-schema.js';
import { cacheLifecycleShape } from './lifecycle-schema.js';
import { metricsSchema } from './metrics-schema.js';
import { storageSchema } from './storage-schema.js';
import { uiSchema } from './ui-schema.js';
import { coordinationSchema, metadataSchema } from './scaleout-schema.js';
import { hostedNamespacesSchema, upstreamsSchema } from './upstreams-schema.js';

const serverSchema = z
  .object({
    host: z.string().default('0.0.0.0').describe('Address to listen on'),
    port: z.coerce.number().int().min(0).max(65535).default(5000).describe('Listen port; 0 picks a free port'),
    publicUrl: z.string().url().optional().describe('External base URL, used in token realms; default from the request'),
    trustProxy: z
      .union([z.boolean(), z.number().int().min(0).max(10), z.array(z.string().min(1)).min(1)])
      .default(false)
      .describe(
        'Which peers may set X-Forwarded-For/-Proto/-Host (express trust proxy): false (default) trusts none; a list of addresses/CIDRs ' +
          "(or 'loopback', 'uniquelocal'); a number of hops; true trusts every peer (only when nothing but the proxy can reach the port). " +
          'Feeds the token realm (without publicUrl) and the per-address login limit.',
      ),
    shutdownTimeoutSeconds: z.coerce.number().positive().default(30).describe('Grace period for in-flight requests on SIGTERM'),
    workers: z.coerce.number().int().min(0).max(256).default(0).describe('Processes serving the port (node:cluster); 0: one per core; 1: a single process'),
  })
  .strict();

const cacheSchema = z
  .object({
    redisUrl: z.string().optional().describe('redis://host:port for shared tokens and tag freshness; memory when unset'),
    manifestCacheEntries: z.coerce.number().int().nonnegative().default(10000).describe('In-process hot manifest cache size'),
    ...cacheLifecycleShape,
  })
  .strict()
  .refine((c) => c.lowWatermark <= c.highWatermark, { message: 'lowWatermark must not exceed highWatermark', path: ['lowWatermark'] });

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
    ui: uiSchema,
    metadata: metadataSchema,
    coordination: coordinationSchema,
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
