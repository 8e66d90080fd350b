import { createHash } from 'node:crypto';
import { expect } from 'vitest';

/**
 * A thin HTTP client for the conformance flows. It knows only what the spec tells a client:
 * a base URL, that `Location` may be absolute or relative, and that a `<location>` may carry
 * "critical query parameters" (Distribution's `_state`), so parameters are added, never rebuilt.
 */

export type Body = Buffer<ArrayBuffer> | string;

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Body;
  /** Extra query parameters, appended to whatever the path or location already carries. */
  query?: Record<string, string>;
}

export class RegistryClient {
  constructor(readonly baseUrl: string) {}

  /** `target` is a path (`/v2/...`) or a `Location` value as the registry sent it. */
  url(target: string, query: Record<string, string> = {}): URL {
    const url = new URL(target, this.baseUrl);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return url;
  }

  request(method: string, target: string, o: RequestOptions = {}): Promise<Response> {
    return fetch(this.url(target, o.query), { method, headers: o.headers, body: o.body, redirect: 'manual' });
  }

  get(target: string, o: RequestOptions = {}): Promise<Response> {
    return this.request('GET', target, o);
  }

  head(target: string, o: RequestOptions = {}): Promise<Response> {
    return this.request('HEAD', target, o);
  }

  /** POST /v2/<name>/blobs/uploads/ (end-4a, end-4b, end-11). */
  startUpload(repo: string, o: RequestOptions = {}): Promise<Response> {
    return this.request('POST', `/v2/${repo}/blobs/uploads/`, { headers: { 'Content-Length': '0' }, ...o });
  }

  putManifest(repo: string, ref: string, body: Body, contentType: string): Promise<Response> {
    return this.request('PUT', `/v2/${repo}/manifests/${ref}`, { body, headers: { 'Content-Type': contentType } });
  }
}

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function sha512(data: Uint8Array | string): string {
  return `sha512:${createHash('sha512').update(data).digest('hex')}`;
}

/** The `Location` header, which the spec makes REQUIRED on every 201/202 of the push flows. */
export function locationOf(res: Response): string {
  const location = res.headers.get('location');
  expect(location, `${res.status} response without Location`).toBeTruthy();
  return location!;
}

export async function bytesOf(res: Response): Promise<Buffer> {
  return Buffer.from(await res.arrayBuffer());
}

export interface ErrorEntry {
  code: string;
  message?: string;
  detail?: unknown;
}

/**
 * Spec, "Error Codes": a JSON 4xx body is `{"errors":[{code,message,detail}]}`, `code` made of
 * uppercase letters and underscores, `message` optional (a string when present).
 */
export async function errorsOf(res: Response): Promise<ErrorEntry[]> {
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${res.status} error body is not JSON: ${text.slice(0, 200)}`);
  }
  expect(body).toMatchObject({ errors: expect.any(Array) });
  const errors = (body as { errors: ErrorEntry[] }).errors;
  expect(errors.length).toBeGreaterThan(0);
  for (const e of errors) {
    expect(e.code).toMatch(/^[A-Z_]+$/);
    if (e.message !== undefined) expect(typeof e.message).toBe('string');
  }
  return errors;
}

/** Asserts the status and that one of the body's error codes is among `codes`. */
export async function expectError(res: Response, status: number, ...codes: string[]): Promise<void> {
  expect(res.status, `expected ${status} ${codes.join('|')}`).toBe(status);
  const found = (await errorsOf(res)).map((e) => e.code);
  expect(found.some((c) => codes.includes(c)), `error codes ${found.join(',')} not among ${codes.join(',')}`).toBe(true);
}
