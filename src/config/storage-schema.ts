import { z } from 'zod';
import { gcSchema } from './lifecycle-schema.js';

const s3Schema = z
  .object({
    bucket: z.string().min(1).describe('Bucket holding blobs and upload sessions (must exist)'),
    region: z.string().min(1).default('us-east-1').describe('Region used for signing'),
    endpoint: z.string().url().optional().describe('S3-compatible endpoint URL (MinIO, Ceph, s3rver…); AWS when unset'),
    forcePathStyle: z.boolean().default(false).describe('Address the bucket as endpoint/bucket rather than bucket.endpoint'),
    prefix: z
      .string()
      .regex(/^([A-Za-z0-9._-]+\/)*$/, 'empty, or path segments each ending in /')
      .default('')
      .describe('Key prefix under which everything is stored, e.g. registry/'),
    accessKeyIdEnv: z.string().min(1).default('AWS_ACCESS_KEY_ID').describe('Environment variable holding the access key id'),
    secretAccessKeyEnv: z.string().min(1).default('AWS_SECRET_ACCESS_KEY').describe('Environment variable holding the secret key'),
    sessionTokenEnv: z.string().min(1).default('AWS_SESSION_TOKEN').describe('Environment variable holding a session token, if any'),
    redirect: z.boolean().default(false).describe('Answer blob GETs with 307 to a presigned URL instead of streaming'),
    redirectExpirySeconds: z.coerce.number().int().min(60).max(7 * 24 * 3600).default(1200).describe('Lifetime of presigned URLs'),
    partSizeMiB: z.coerce.number().int().min(5).max(512).default(8).describe('Multipart part size on the way in'),
    queueSize: z.coerce.number().int().min(1).max(16).default(2).describe('Parts uploaded in parallel per blob'),
  })
  .strict();

export type S3Config = z.infer<typeof s3Schema>;

export const storageSchema = z
  .object({
    driver: z.enum(['filesystem', 's3']).default('filesystem').describe('Where blobs and upload sessions live'),
    dataDir: z.string().min(1).default('./data').describe('Data folder: blobs (filesystem driver), index, uploads, users, keys'),
    deleteEnabled: z.boolean().default(true).describe('Allow DELETE of manifests, tags and blobs'),
    maxManifestBytes: z.coerce.number().int().positive().default(4 * 1024 * 1024).describe('Largest accepted manifest'),
    uploadExpirySeconds: z.coerce.number().int().positive().default(24 * 3600).describe('Abandoned uploads are removed after this'),
    minFreeBytes: z.coerce.number().int().nonnegative().default(256 * 1024 * 1024).describe('Free-space floor of the data filesystem: /readyz reports the store not ready under it; 0 disables'),
    verifyBlobReads: z.enum(['first', 'always']).default('first').describe('Hash blobs while serving them: on the first full read after start (then the scrub re-checks) or on every full read'),
    scrubBytesPerSecond: z.coerce.number().int().nonnegative().default(32 * 1024 * 1024).describe('Background re-hashing of stored blobs, bytes per second; 0 disables the scrub'),
    scrubIntervalSeconds: z.coerce.number().int().positive().default(7 * 24 * 3600).describe('A full scrub pass starts this long after the previous one began (and once soon after start)'),
    s3: s3Schema.optional().describe('Settings of the s3 driver'),
    gc: gcSchema.default({}).describe('Online garbage collection of unreferenced blobs and abandoned uploads'),
    trashDays: z.coerce.number().nonnegative().default(30).describe('Deleted manifests and tags can be restored this long; 0 = deletes are final'),
  })
  .strict()
  .refine((s) => s.driver !== 's3' || s.s3 !== undefined, { message: 'storage.driver s3 needs a storage.s3 section (bucket at least)', path: ['s3'] });
