/**
 * One in-flight promise per key: concurrent callers share the first caller's work. The work is not tied
 * to any caller's request, so a client hanging up does not cancel a fill others are waiting for.
 * Created per registry (app factory), never at module level.
 */
export class SingleFlight {
  private readonly running = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const existing = this.running.get(key) as Promise<T> | undefined;
    if (existing) return existing;
    const promise = work().finally(() => this.running.delete(key));
    this.running.set(key, promise);
    return promise;
  }

  get size(): number {
    return this.running.size;
  }
}
