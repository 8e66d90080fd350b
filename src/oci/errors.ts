/** The spec's error codes and the one table that maps them to HTTP statuses. */
export const ERROR_STATUS = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  TAG_INVALID: 400,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  RANGE_INVALID: 416,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  PAGINATION_NUMBER_INVALID: 400,
  TOOMANYREQUESTS: 429,
  UNAVAILABLE: 503,
  UNKNOWN: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

const DEFAULT_MESSAGES: Record<ErrorCode, string> = {
  BLOB_UNKNOWN: 'blob unknown to registry',
  BLOB_UPLOAD_INVALID: 'blob upload invalid',
  BLOB_UPLOAD_UNKNOWN: 'blob upload unknown to registry',
  DIGEST_INVALID: 'provided digest did not match uploaded content',
  MANIFEST_BLOB_UNKNOWN: 'manifest references a manifest or blob unknown to registry',
  MANIFEST_INVALID: 'manifest invalid',
  MANIFEST_UNKNOWN: 'manifest unknown to registry',
  TAG_INVALID: 'manifest tag did not match URI',
  NAME_INVALID: 'invalid repository name',
  NAME_UNKNOWN: 'repository name not known to registry',
  SIZE_INVALID: 'provided length did not match content length',
  RANGE_INVALID: 'invalid content range',
  UNAUTHORIZED: 'authentication required',
  DENIED: 'requested access to the resource is denied',
  UNSUPPORTED: 'the operation is unsupported',
  PAGINATION_NUMBER_INVALID: 'invalid number of results requested',
  TOOMANYREQUESTS: 'too many requests',
  UNAVAILABLE: 'service unavailable',
  UNKNOWN: 'unknown error',
};

export interface OciErrorOptions {
  detail?: unknown;
  /** Extra response headers, e.g. WWW-Authenticate, Retry-After, Range. */
  headers?: Record<string, string>;
  /** Only where the spec asks for a status other than the code's usual one (e.g. 413). */
  status?: number;
  cause?: unknown;
}

export class OciError extends Error {
  readonly code: ErrorCode;
  readonly detail?: unknown;
  readonly headers: Record<string, string>;
  readonly status: number;

  constructor(code: ErrorCode, message?: string, options: OciErrorOptions = {}) {
    super(message ?? DEFAULT_MESSAGES[code], { cause: options.cause });
    this.name = 'OciError';
    this.code = code;
    this.detail = options.detail;
    this.headers = options.headers ?? {};
    this.status = options.status ?? ERROR_STATUS[code];
  }

  toBody(): { errors: Array<{ code: ErrorCode; message: string; detail?: unknown }> } {
    const entry: { code: ErrorCode; message: string; detail?: unknown } = { code: this.code, message: this.message };
    if (this.detail !== undefined) entry.detail = this.detail;
    return { errors: [entry] };
  }
}

/** A write failed because the filesystem (or the quota) is full: ENOSPC / EDQUOT anywhere in the cause chain. */
export function isNoSpaceError(err: unknown): boolean {
  let e = err as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 5; depth++, e = e.cause as typeof e) {
    if (e.code === 'ENOSPC' || e.code === 'EDQUOT') return true;
  }
  return false;
}

export function isOciError(err: unknown, code?: ErrorCode): err is OciError {
  return err instanceof OciError && (code === undefined || err.code === code);
}
