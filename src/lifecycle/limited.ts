/** Runs `work` over `items` with at most `parallel` at once: fast on SSDs without exhausting file descriptors. */
export async function forEachLimited<T>(items: Iterable<T>, parallel: number, work: (item: T) => Promise<void>): Promise<void> {
  const iterator = items[Symbol.iterator]();
  const worker = async () => {
    for (let next = iterator.next(); !next.done; next = iterator.next()) await work(next.value);
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** Spaces calls `1/rate` seconds apart (shared by parallel workers); rate 0: no pause. */
export function pacer(rate: number): () => Promise<void> {
  if (rate <= 0) return async () => undefined;
  const start = performance.now();
  let issued = 0;
  return async () => {
    const due = start + (issued++ * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  };
}
