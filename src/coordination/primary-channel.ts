/** A cluster worker's channel to its primary (node:process in a cluster worker fits), carrying messages `M`. */
export interface PrimaryChannel<M> {
  send?(message: M): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

/**
 * A worker's requests to its primary awaiting their replies, matched by id: each request gets a fresh id,
 * and its reply (or, when given, a timeout, or closing) settles it. Shared by the coordinator and the
 * cluster metrics, which both ask the primary over the same IPC channel.
 */
export class PendingReplies<T> {
  private nextId = 1;
  private readonly waiting = new Map<number, (value: T) => void>();

  /** Sends a request under a fresh id; resolves with its reply, or with `fallback` once `timeoutMs` passed. */
  ask(send: (id: number) => void, timeout?: { ms: number; fallback: T }): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      if (!timeout) {
        this.waiting.set(id, resolve);
      } else {
        const timer = setTimeout(() => {
          this.waiting.delete(id);
          resolve(timeout.fallback);
        }, timeout.ms);
        timer.unref();
        this.waiting.set(id, (value) => {
          clearTimeout(timer);
          resolve(value);
        });
      }
      send(id);
    });
  }

  /** The reply to request `id` arrived (ignored when it already timed out or was never asked). */
  settle(id: number, value: T): void {
    const resolve = this.waiting.get(id);
    this.waiting.delete(id);
    resolve?.(value);
  }

  /** Settles every request still waiting with `value`. */
  close(value: T): void {
    for (const resolve of this.waiting.values()) resolve(value);
    this.waiting.clear();
  }
}
