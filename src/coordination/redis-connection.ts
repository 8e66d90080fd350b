import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';

/** The few Redis calls the coordinator and the index make: raw commands and one subscriber connection. */
export interface RedisConnection {
  /** A command as its arguments, e.g. ['ZRANGE', key, '0', '-1']; the reply as Redis sends it. */
  cmd<T = unknown>(args: readonly string[]): Promise<T>;
  /** Runs a Lua script (EVALSHA after the first call). */
  script<T = unknown>(lua: string, keys: readonly string[], args: readonly string[]): Promise<T>;
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  close(): Promise<void>;
}

/**
 * Connects to Redis with @redis/client, imported only here and only when Redis is configured, so a
 * registry without Redis loads nothing of it. Connection errors are logged, not thrown: the client
 * reconnects by itself and calls in between fail (the request then fails, the process stays up).
 */
export async function connectRedis(url: string, logger?: Logger): Promise<RedisConnection> {
  const { createClient } = await import('@redis/client');
  const client = createClient({ url });
  client.on('error', (err: Error) => logger?.warn({ err: err.message }, 'redis connection error'));
  await client.connect();
  let subscriber: typeof client | undefined;
  const shas = new Map<string, string>();
  const conn: RedisConnection = {
    cmd: <T>(args: readonly string[]) => client.sendCommand<T>(args),
    async script<T>(lua: string, keys: readonly string[], args: readonly string[]): Promise<T> {
      let sha = shas.get(lua);
      if (!sha) {
        sha = await client.sendCommand<string>(['SCRIPT', 'LOAD', lua]);
        shas.set(lua, sha);
      }
      try {
        return await client.sendCommand<T>(['EVALSHA', sha, String(keys.length), ...keys, ...args]);
      } catch (err) {
        // After a server restart the script cache is empty: load it again once.
        if (!String((err as Error).message).includes('NOSCRIPT')) throw err;
        shas.delete(lua);
        return conn.script<T>(lua, keys, args);
      }
    },
    async subscribe(channel, listener) {
      if (!subscriber) {
        subscriber = client.duplicate();
        subscriber.on('error', (err: Error) => logger?.warn({ err: err.message }, 'redis subscriber error'));
        await subscriber.connect();
      }
      await subscriber.subscribe(channel, (message: string) => listener(message));
    },
    async close() {
      await Promise.allSettled([client.quit(), subscriber?.quit()]);
    },
  };
  return conn;
}

/** A name for this process in shared state (lock owners, the sender of an invalidation). */
export function processTag(): string {
  return randomUUID();
}
