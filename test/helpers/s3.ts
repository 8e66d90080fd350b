import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import S3rver from 's3rver';
import { stopChild } from './run-tool.js';
import { tmpDir } from './registry.js';

/** The credentials s3rver accepts, as the environment the registry reads them from. */
export const S3_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' } as const;

export interface RunningS3 {
  endpoint: string;
  bucket: string;
  /** Where s3rver keeps the objects (bucket/key… as files). */
  dir: string;
  /** The registry's `storage` section for this endpoint; pass S3_ENV as the registry's env. */
  storage(s3?: Record<string, unknown>): Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * An S3 endpoint on loopback (the npm package s3rver) with one empty bucket. In this process by
 * default; `child: true` runs it as its own process, so a benchmark's registry does not share a
 * thread with it.
 */
export async function startS3(o: { bucket?: string; child?: boolean } = {}): Promise<RunningS3> {
  const bucket = o.bucket ?? 'registry';
  const dir = await tmpDir('s3rver-');
  let port: number;
  let stop: () => Promise<void>;
  if (o.child) {
    const script = `const S3rver = require('s3rver');
new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: ${JSON.stringify(dir)}, configureBuckets: [{ name: ${JSON.stringify(bucket)} }] })
  .run().then((a) => console.log('PORT ' + a.port));`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = once(child, 'exit');
    port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /PORT (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      void exited.then(() => reject(new Error('s3rver exited before listening')));
    });
    stop = () => stopChild(child, exited);
  } else {
    const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: bucket }] });
    port = (await server.run()).port;
    stop = () => server.close();
  }
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    dir,
    storage: (s3 = {}) => ({ driver: 's3', s3: { bucket, endpoint, forcePathStyle: true, region: 'us-east-1', ...s3 } }),
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
