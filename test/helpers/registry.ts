import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry, type Registry, type RegistryOverrides } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';

export interface RunningRegistry {
  url: string;
  /** host:port, as skopeo and podman want it. */
  host: string;
  port: number;
  dataDir: string;
  registry: Registry;
  server: Server;
  close(): Promise<void>;
}

export async function tmpDir(prefix = 'reg-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Starts a real registry on 127.0.0.1 port 0 with a fresh data folder. */
export async function startRegistry(
  config: DeepPartial<ConfigInput> & Record<string, unknown> = {},
  overrides: RegistryOverrides & { dataDir?: string; keepData?: boolean } = {},
): Promise<RunningRegistry> {
  const dataDir = overrides.dataDir ?? (await tmpDir());
  const storage = (config.storage ?? {}) as Record<string, unknown>;
  const log = (config.log ?? {}) as Record<string, unknown>;
  const full = parseConfig({
    ...config,
    server: { host: '127.0.0.1', port: 0, ...((config.server ?? {}) as object) },
    storage: { ...storage, dataDir },
    log: { level: process.env.TEST_LOG_LEVEL ?? 'silent', ...log },
  });
  const registry = await createRegistry(full, overrides);
  // As src/main.ts: idle keep-alive connections outlive the clients' own idle timeouts (undici: the server's
  // hint minus 1 s). With node's 5 s default, a loaded machine let a test send its next request on a
  // connection the server was closing at that moment, and the client read ECONNRESET.
  const server = createServer({ keepAliveTimeout: 65_000 }, registry.handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    dataDir,
    registry,
    server,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await registry.close();
      if (!overrides.keepData) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
