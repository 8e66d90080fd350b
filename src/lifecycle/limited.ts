/** Runs `work` over `items` with at most `parallel` at once: fast on SSDs without exhausting file descriptors. */
export async function forEachLimited<T>(items: Iterable<T>, parallel: number, work: (item: T) => Promise<void>): Promise<void> {
  const iterator = items[Symbol.iterator]();
  const worker = async () => {
    for (let next = iterator.next(); !next.done; next = iterator.next()) await work(next.value);
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}
