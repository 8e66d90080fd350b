import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { CoordinationBroker } from '../coordination/ipc-coordinator.js';
import { MetricsBroker } from './cluster-metrics.js';

/** `server.workers`: 0 means one per core. */
export function workerCount(configured: number): number {
  return configured > 0 ? configured : availableParallelism();
}

/**
 * The cluster primary: forks the workers that serve the port (node:cluster hands them connections), is
 * their coordination broker and metrics relay, restarts a worker that dies, and on SIGTERM/SIGINT passes the signal on and
 * exits once every worker has drained. It runs no registry code itself.
 */
export function runPrimary(workers: number, logger: Logger, exit: (code: number) => void): { stop(signal: NodeJS.Signals): void } {
  const broker = new CoordinationBroker();
  const metrics = new MetricsBroker();
  let stopping = false;
  const fork = (): Worker => {
    const worker = cluster.fork();
    broker.add(worker);
    metrics.add(worker);
    worker.on('message', (m: unknown) => {
      broker.handle(worker, m);
      metrics.handle(worker, m);
    });
    return worker;
  };
  cluster.on('exit', (worker, code, signal) => {
    broker.remove(worker.id);
    metrics.remove(worker.id);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        logger.info('all workers stopped');
        exit(0);
      }
      return;
    }
    logger.error({ worker: worker.id, code, signal }, 'worker died; starting another');
    setTimeout(fork, 1000).unref();
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping workers');
    const running = Object.values(cluster.workers ?? {});
    if (running.length === 0) exit(0);
    for (const w of running) w?.process.kill(signal);
  };
  logger.info({ workers }, `starting ${workers} workers`);
  for (let i = 0; i < workers; i++) fork();
  return { stop };
}
