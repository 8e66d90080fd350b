import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { Agent, request } from 'node:http';
import { pipeline } from 'node:stream/promises';

/** Direct HTTP pieces of the workload: monolithic blob push, blob GET, manifest GET load. */

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  bytes: number;
}

/** One request; the body (if any) streams from a file; the answer body is counted and dropped. */
function call(url: string, method: string, headers: Record<string, string | number> = {}, bodyFile?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (bodyFile) pipeline(createReadStream(bodyFile, { highWaterMark: 1024 * 1024 }), req).catch(reject);
    else req.end();
  });
}

/** POST then one streaming PUT ?digest= (the monolithic upload every registry supports). */
export async function pushBlobFile(base: string, repo: string, file: string, size: number, digest: string): Promise<void> {
  const start = await call(`${base}/v2/${repo}/blobs/uploads/`, 'POST', { 'Content-Length': 0 });
  if (start.status !== 202) throw new Error(`POST upload: ${start.status}`);
  const location = new URL(String(start.headers.location), base);
  location.searchParams.set('digest', digest);
  const put = await call(location.toString(), 'PUT', { 'Content-Type': 'application/octet-stream', 'Content-Length': size }, file);
  if (put.status !== 201) throw new Error(`PUT upload: ${put.status}`);
}

export async function getBlob(base: string, repo: string, digest: string): Promise<number> {
  const res = await call(`${base}/v2/${repo}/blobs/${digest}`, 'GET');
  if (res.status !== 200) throw new Error(`GET blob: ${res.status}`);
  return res.bytes;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  perSecond: number;
  errors: number;
  tool: string;
}

/** Manifest GETs at fixed concurrency for `seconds`: wrk when installed (less client CPU), else a Node loop. */
export async function manifestLoad(url: string, accept: string, seconds: number, concurrency: number): Promise<LoadResult> {
  if (process.env.BENCH_LOAD !== 'node' && (await hasCommand('wrk'))) return wrkLoad(url, accept, seconds, concurrency);
  return nodeLoad(url, accept, seconds, concurrency);
}

async function nodeLoad(url: string, accept: string, seconds: number, concurrency: number): Promise<LoadResult> {
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  let done = 0;
  let errors = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      try {
        const res = await call(url, 'GET', { Accept: accept });
        if (res.status === 200) done++;
        else errors++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  return { requests: done, seconds: elapsed, perSecond: done / elapsed, errors, tool: `node loop, ${concurrency} connections` };
}

function hasCommand(cmd: string): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn(cmd, ['--version'], { stdio: 'ignore' });
    p.on('error', () => resolve(false));
    p.on('exit', () => resolve(true));
  });
}

function wrkLoad(url: string, accept: string, seconds: number, concurrency: number): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const args = ['-t', '1', '-c', String(concurrency), '-d', `${seconds}s`, '-H', `Accept: ${accept}`, url];
    const p = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.on('error', reject);
    p.on('exit', () => {
      const total = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(out);
      const rate = /Requests\/sec:\s+([\d.]+)/.exec(out);
      const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
      const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      if (!total || !rate) return reject(new Error(`cannot parse wrk output:\n${out}`));
      const unit = total[3] === 'ms' ? 0.001 : total[3] === 'm' ? 60 : 1;
      const errors = Number(non2xx?.[1] ?? 0) + (socketErrors ? socketErrors.slice(1).reduce((a, v) => a + Number(v), 0) : 0);
      resolve({
        requests: Number(total[1]),
        seconds: Number(total[2]) * unit,
        perSecond: Number(rate[1]),
        errors,
        tool: `wrk -t1 -c${concurrency}`,
      });
    });
  });
}

/**
 * Downloads a blob and returns MB/s. curl when installed: a Node client on the same 2 cores costs as much CPU
 * as the server and caps both registries at a few hundred MB/s, hiding the difference between them.
 */
export async function blobReadMBps(base: string, repo: string, digest: string, size: number): Promise<{ MBps: number; tool: string }> {
  const url = `${base}/v2/${repo}/blobs/${digest}`;
  if (process.env.BENCH_CLIENT !== 'node' && (await hasCommand('curl'))) {
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}', url], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      p.stdout.on('data', (b: Buffer) => (text += b.toString()));
      p.on('error', reject);
      p.on('exit', () => resolve(text));
    });
    const [status, bytes, secs] = out.trim().split(' ').map(Number) as [number, number, number];
    if (status !== 200 || bytes !== size) throw new Error(`curl GET blob: ${out}`);
    return { MBps: bytes / 1e6 / secs, tool: 'curl' };
  }
  const t = performance.now();
  const bytes = await getBlob(base, repo, digest);
  if (bytes !== size) throw new Error(`short blob read: ${bytes} of ${size}`);
  return { MBps: bytes / 1e6 / ((performance.now() - t) / 1000), tool: 'node http' };
}
