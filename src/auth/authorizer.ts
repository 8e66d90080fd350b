import { OciError } from '../oci/errors.js';

export type Action = 'pull' | 'push' | 'delete';

export type Access =
  | { type: 'repository'; name: string; actions: Action[] }
  | { type: 'registry'; name: 'catalog'; actions: ['*'] };

/** What a caller was found to be allowed. */
export interface Grant {
  readonly subject: string | null;
  allows(repo: string, action: Action): boolean;
}

/** What the authorizer may know of a request, without depending on HTTP types. */
export interface AuthRequest {
  authorization?: string;
  /** Scheme and host the client used, e.g. http://127.0.0.1:5000, for the token realm. */
  baseUrl: string;
  remoteAddress?: string;
}

/** No or bad credentials → UNAUTHORIZED with a challenge; insufficient → DENIED. */
export interface Authorizer {
  authorize(request: AuthRequest, wanted: readonly Access[]): Promise<Grant>;
  /**
   * Who the caller is and what they may do, asking for nothing in particular (the pages list what the
   * grant allows): anonymous → public pulls only; bad credentials → UNAUTHORIZED.
   */
  identify?(request: AuthRequest): Promise<Grant>;
  /**
   * The grant when it can be decided from memory alone (no I/O, nothing to log or count), e.g. an open
   * registry or an anonymous pull of a public repository; undefined when `authorize` must decide.
   */
  authorizeFromMemory?(authorization: string | undefined, wanted: readonly Access[]): Grant | undefined;
}

/** Everyone may do everything: the registry's behaviour when access control is off. */
export class OpenAuthorizer implements Authorizer {
  private static readonly grant: Grant = { subject: null, allows: () => true };

  async authorize(): Promise<Grant> {
    return OpenAuthorizer.grant;
  }

  async identify(): Promise<Grant> {
    return OpenAuthorizer.grant;
  }

  authorizeFromMemory(): Grant {
    return OpenAuthorizer.grant;
  }
}

export function denied(message = 'requested access to the resource is denied', detail?: unknown): OciError {
  return new OciError('DENIED', message, { detail });
}
