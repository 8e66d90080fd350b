import { z } from 'zod';

/** Pages under /ui/, the JSON API under /api/, Docker's /v1/search and download counting (issue 13). */
export const uiSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Serve the pages, the JSON API and /v1/search, and count downloads'),
    path: z
      .string()
      .regex(/^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/, 'must be an absolute URL path without a trailing slash')
      .refine((p) => !['/v1', '/v2', '/api', '/token'].some((r) => p === r || p.startsWith(`${r}/`)), 'must not be under /v1, /v2, /api or /token')
      .default('/ui')
      .describe('URL path of the pages'),
    analysisConcurrency: z.coerce.number().int().min(1).max(16).default(1).describe('Layers listed and hashed at once in the background'),
    downloadFlushSeconds: z.coerce.number().positive().default(5).describe('Download counts are batched in memory and written this often'),
    pageSize: z.coerce.number().int().min(1).max(1000).default(50).describe('Rows per page in lists (repositories, tags, files)'),
  })
  .strict()
  .default({});

export type UiConfig = z.infer<typeof uiSchema>;
