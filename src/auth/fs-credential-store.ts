import { join } from 'node:path';
import { z } from 'zod';
import { WatchedFile, withFileLock, writeAtomic } from './auth-files.js';

const scope = z.enum(['read', 'write', 'delete']);
const grant = z.object({ namespace: z.string().min(1), scopes: z.array(scope) });

const storedUser = z.object({
  name: z.string().min(1),
  /** scrypt ($scrypt$…) or, written by older versions, bcrypt; absent for users that log in with access tokens only. */
  passwordHash: z.string().optional(),
  access: z.array(grant),
  createdAt: z.string(),
  revokedAt: z.string().optional(),
});

const storedToken = z.object({
  id: z.string().min(1),
  name: z.string(),
  user: z.string().min(1),
  /** sha256:<hex> of the token string; the string itself is shown once and never stored. */
  hash: z.string().regex(/^sha256:[a-f0-9]{64}$/),
  scopes: z.array(scope).min(1),
  namespaces: z.array(z.string().min(1)).min(1),
  createdAt: z.string(),
  expiresAt: z.string().optional(),
  revokedAt: z.string().optional(),
});

const storeFile = z.object({
  version: z.literal(1),
  users: z.array(storedUser),
  tokens: z.array(storedToken),
});

export type StoredUser = z.infer<typeof storedUser>;
export type StoredToken = z.infer<typeof storedToken>;
export type CredentialData = z.infer<typeof storeFile>;

/** Where the store lives inside the data folder. */
export function credentialStorePath(dataDir: string): string {
  return join(dataDir, 'auth', 'credentials.json');
}

function emptyData(): CredentialData {
  return { version: 1, users: [], tokens: [] };
}

/**
 * Users and access tokens kept as one small JSON file (mode 0600) under the data folder. Writes are
 * read-modify-write under a lock, then temp → fsync → rename; readers re-read only when it changed.
 */
export class FsCredentialStore {
  private readonly file: WatchedFile<CredentialData>;

  constructor(
    readonly path: string,
    reloadIntervalMs = 1000,
    onBadReload?: (err: Error) => void,
  ) {
    this.file = new WatchedFile(path, (text) => parseStore(text, path), reloadIntervalMs, onBadReload);
  }

  snapshot(): Promise<CredentialData> {
    return this.file.get();
  }

  /** Applies `change` to a fresh copy and saves it; what `change` returns is handed back. */
  async update<T>(change: (data: CredentialData) => T): Promise<T> {
    return withFileLock(this.path, async () => {
      this.file.invalidate();
      const data = structuredClone(await this.file.get());
      const result = change(data);
      await writeAtomic(this.path, `${JSON.stringify(data, null, 2)}\n`, 0o600, (written) => parseStore(written, this.path));
      this.file.invalidate();
      return result;
    });
  }
}

function parseStore(text: string | undefined, path: string): CredentialData {
  if (text === undefined) return emptyData();
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`credential store ${path} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = storeFile.safeParse(raw);
  if (!parsed.success) throw new Error(`credential store ${path} is invalid: ${parsed.error.issues[0]?.message ?? 'unknown'}`);
  return parsed.data;
}
