import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  UploadPartCopyCommand,
  AbortMultipartUploadCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { S3Config } from '../../config/storage-schema.js';
import type { ByteRange } from '../../oci/types.js';

/** CopyObject's limit; larger objects are copied part by part. */
const MAX_SINGLE_COPY = 5 * 1024 ** 3;
const COPY_PART = 1024 ** 3;

/**
 * The bucket as the S3 stores see it: keys under the configured prefix, streamed puts (multipart
 * through lib-storage, so memory stays at queueSize × partSize whatever the object size), ranged
 * gets, server-side copies. The only place that talks to the SDK.
 */
export class S3Bucket {
  constructor(
    readonly client: S3Client,
    private readonly config: S3Config,
  ) {}

  get bucket(): string {
    return this.config.bucket;
  }

  key(relative: string): string {
    return `${this.config.prefix}${relative}`;
  }

  /** Size of an object, undefined when absent. */
  async head(key: string): Promise<{ size: number; lastModified?: Date } | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: out.ContentLength ?? 0, lastModified: out.LastModified };
    } catch (err) {
      if (isS3NotFound(err)) return undefined;
      throw err;
    }
  }

  /** The object's bytes (or a range); undefined when absent. The error, if any, comes before the body. */
  async get(key: string, range?: ByteRange, signal?: AbortSignal): Promise<Readable | undefined> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
        signal ? { abortSignal: signal } : {},
      );
      return out.Body as Readable;
    } catch (err) {
      if (isS3NotFound(err)) return undefined;
      throw err;
    }
  }

  async getText(key: string): Promise<string | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await out.Body!.transformToString('utf8');
    } catch (err) {
      if (isS3NotFound(err)) return undefined;
      throw err;
    }
  }

  /** Streams `body` into `key`: one PUT when it fits a part, multipart otherwise; aborted parts are removed. */
  async put(key: string, body: Readable | Buffer | string, signal?: AbortSignal): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body },
      partSize: this.config.partSizeMiB * 1024 * 1024,
      queueSize: this.config.queueSize,
      leavePartsOnError: false,
    });
    const abort = () => void upload.abort().catch(() => undefined);
    signal?.addEventListener('abort', abort, { once: true });
    try {
      await upload.done();
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }

  /** Server-side copy (no bytes through us): one CopyObject up to 5 GiB, parts beyond. */
  async copy(from: string, to: string, size: number): Promise<void> {
    const source = `${this.bucket}/${encodeURIComponent(from).replace(/%2F/g, '/')}`;
    if (size <= MAX_SINGLE_COPY) {
      await this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: source }));
      return;
    }
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: to }));
    try {
      const parts: Array<{ ETag?: string; PartNumber: number }> = [];
      for (let start = 0, n = 1; start < size; start += COPY_PART, n++) {
        const end = Math.min(start + COPY_PART, size) - 1;
        const out = await this.client.send(
          new UploadPartCopyCommand({ Bucket: this.bucket, Key: to, UploadId, PartNumber: n, CopySource: source, CopySourceRange: `bytes=${start}-${end}` }),
        );
        parts.push({ ETag: out.CopyPartResult?.ETag, PartNumber: n });
      }
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: to, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: to, UploadId })).catch(() => undefined);
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async deleteQuietly(key: string): Promise<void> {
    await this.delete(key).catch(() => undefined);
  }

  /** Every key under `prefix` (no delimiter: some S3-compatible servers do not descend below one). */
  async *list(prefix: string): AsyncGenerator<{ key: string; size: number; lastModified?: Date }> {
    let token: string | undefined;
    do {
      const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of out.Contents ?? []) if (o.Key) yield { key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified };
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  /** A URL that lets its holder GET the object (Range allowed) until it expires. */
  presignGet(key: string): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: this.config.redirectExpirySeconds });
  }

  /** A fresh key for bytes not yet verified. */
  tempKey(): string {
    return this.key(`_tmp/${randomUUID()}`);
  }
}

export function isS3NotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.$metadata?.httpStatusCode === 404 || e?.name === 'NoSuchKey' || e?.name === 'NotFound';
}

/** The client, with credentials read from the variables the config names (never logged). */
export function createS3Client(config: S3Config, env: Readonly<Record<string, string | undefined>>): S3Client {
  const accessKeyId = env[config.accessKeyIdEnv];
  const secretAccessKey = env[config.secretAccessKeyEnv];
  const sessionToken = env[config.sessionTokenEnv];
  return new S3Client({
    region: config.region,
    endpoint: config.endpoint,
    forcePathStyle: config.forcePathStyle,
    // Without both variables the SDK's own chain applies (instance profile, web identity, ~/.aws).
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, sessionToken: sessionToken || undefined } : undefined,
    // We hash every byte ourselves (sha256 digests); the SDK's extra CRC32 trailers cost CPU and
    // break S3-compatible servers that do not know them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
