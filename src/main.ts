import cluster from 'node:cluster';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { createRegistry } from './app.js';
import { ConfigError, loadConfig } from './config/load.js';
import { WorkerClusterMetrics } from './cluster/cluster-metrics.js';
import { runPrimary, workerCount } from './cluster/primary.js';
import { IpcCoordinator } from './coordination/ipc-coordinator.js';
import { createLogger } from './log.js';

/** The only module that touches process.*: argv/env → config → registry → listen; drains on SIGTERM. */
async function main(): Promise<void> {
  // libuv's thread pool (4 threads by default) runs every file operation, and an upload's fsync or
  // background datasync holds a thread for the whole flush: a few concurrent pushes then queued every
  // manifest read and stat behind them. Set before the first file operation starts the pool.
  process.env.UV_THREADPOOL_SIZE ??= '16';
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' } }, allowPositionals: false });
  const file = values.config ?? process.env.REGISTRY_CONFIG;
  const config = await loadConfig({ file, env: process.env });
  // server.workers > 1: this process becomes the cluster primary (forks, brokers, restarts) and the
  // workers re-run main() as cluster workers, coordinating through it (src/coordination/).
  const workers = workerCount(config.server.workers);
  if (cluster.isPrimary && workers > 1) {
    const primary = runPrimary(workers, createLogger(config.log.level), (code) => process.exit(code));
    process.on('SIGTERM', () => primary.stop('SIGTERM'));
    process.on('SIGINT', () => primary.stop('SIGINT'));
    return;
  }
  const coordinator = cluster.isWorker ? new IpcCoordinator(process) : undefined;
  const clusterMetrics = cluster.isWorker ? new WorkerClusterMetrics(process) : undefined;
  const registry = await createRegistry(config, { env: process.env, coordinator, clusterMetrics });
  const { logger } = registry;

  const server = createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 65_000 }, registry.handler);
  server.listen(config.server.port, config.server.host, () => {
    const { port, address } = server.address() as AddressInfo;
    logger.info({ port, address, dataDir: config.storage.dataDir }, `registry listening on ${address}:${port}`);
  });
  // Metrics on their own port (metrics.port > 0), so /metrics need not be exposed with the registry.
  const metricsServer = registry.metricsApp && createServer(registry.metricsApp);
  metricsServer?.listen(config.metrics.port, config.metrics.host ?? config.server.host, () => {
    const { port, address } = metricsServer.address() as AddressInfo;
    logger.info({ port, address, path: config.metrics.path }, `metrics listening on ${address}:${port}`);
  });

  let stopping = false;
  // Responses not yet finished, so a shutdown can ask keep-alive clients to hang up after them:
  // otherwise their idle connections hold server.close() open until the grace period ends.
  const inFlight = new Set<ServerResponse>();
  server.on('request', (_req, res: ServerResponse) => {
    inFlight.add(res);
    res.on('close', () => inFlight.delete(res));
    if (stopping && !res.headersSent) res.setHeader('Connection', 'close');
  });

  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    // Responses already streaming cannot change their headers; close their sockets once idle.
    const sweep = setInterval(() => server.closeIdleConnections(), 250);
    sweep.unref();
    const force = setTimeout(() => {
      logger.warn('grace period over: closing remaining connections');
      server.closeAllConnections();
    }, config.server.shutdownTimeoutSeconds * 1000);
    force.unref();
    server.close(() => {
      void registry.close().finally(() => {
        logger.info('stopped');
        process.exit(0);
      });
    });
    server.closeIdleConnections();
    metricsServer?.close();
    metricsServer?.closeAllConnections();
  };
  // A stray rejected promise must not take every client's transfer down with it: log it loudly instead.
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled promise rejection'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(err.message);
  else console.error(err);
  process.exit(1);
});
