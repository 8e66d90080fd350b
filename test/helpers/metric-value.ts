import type { Counter, Gauge } from 'prom-client';

/** Sum of a counter's (or gauge's) values whose labels include `labels`. */
export async function metricValue<T extends string>(metric: Counter<T> | Gauge<T>, labels: Partial<Record<T, string>> = {}): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}
