import { z } from 'zod';

/** The /metrics endpoint and what it exports (issue 5). */
export const metricsSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Serve Prometheus metrics and count HTTP requests'),
    path: z
      .string()
      .regex(/^\/[A-Za-z0-9._~/-]*$/, 'must be an absolute URL path')
      .refine((p) => p !== '/v2' && !p.startsWith('/v2/'), 'must not be under /v2/ (registry API)')
      .default('/metrics')
      .describe('URL path of the metrics endpoint'),
    port: z.coerce
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(0)
      .describe('0: serve metrics on the registry port; otherwise a separate listener, so /metrics need not be exposed with the registry'),
    host: z.string().optional().describe('Address of the separate metrics listener; default server.host'),
    bearerToken: z.string().min(16, 'use at least 16 characters').optional().describe('When set, scrapes must send Authorization: Bearer <token>'),
    bearerTokenEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .optional()
      .describe('Name of an environment variable holding the bearer token (keeps the secret out of the file)'),
    processMetrics: z.boolean().default(true).describe("prom-client's default process metrics: memory, CPU, event-loop lag, GC"),
    storeScanIntervalSeconds: z.coerce
      .number()
      .nonnegative()
      .default(60)
      .describe('Blob counts and bytes come from a scan of the data folder, reused for this long; 0 rescans on every scrape'),
  })
  .strict()
  .default({});

export type MetricsConfig = z.infer<typeof metricsSchema>;

/**
 * Resolves `metrics.bearerTokenEnv` into `metrics.bearerToken` on the raw config, before
 * validation: the loader is the one place that has the environment (main.ts passes process.env).
 * An unset variable is an error, so a typo cannot leave /metrics open.
 */
export function resolveMetricsTokenEnv(raw: Record<string, unknown>, env: Readonly<Record<string, string | undefined>>): string | undefined {
  const metrics = raw.metrics;
  if (typeof metrics !== 'object' || metrics === null) return undefined;
  const section = metrics as Record<string, unknown>;
  const name = section.bearerTokenEnv;
  if (typeof name !== 'string' || section.bearerToken !== undefined) return undefined;
  const value = env[name];
  if (value === undefined || value === '') return `metrics.bearerTokenEnv: environment variable ${name} is not set`;
  section.bearerToken = value;
  return undefined;
}
