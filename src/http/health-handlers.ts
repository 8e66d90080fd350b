import type { RequestHandler } from 'express';

/** Named readiness checks; each resolves when its dependency is usable and throws a reason otherwise. */
export type ReadinessChecks = Readonly<Record<string, () => Promise<void>>>;

/**
 * GET /readyz: 200 when every check passes, else 503 with each failing check's reason, so an
 * orchestrator stops routing traffic here (and an operator sees why) while /healthz stays 200.
 * Checks run in parallel, each bounded by `timeoutMs`: a hung dependency is a failed one.
 */
export function readinessHandler(checks: ReadinessChecks, timeoutMs = 3000): RequestHandler {
  return async (_req, res) => {
    res.locals.route = '/readyz';
    const names = Object.keys(checks);
    const results = await Promise.all(names.map((name) => runCheck(checks[name]!, timeoutMs)));
    const report: Record<string, string> = {};
    names.forEach((name, i) => (report[name] = results[i] ?? 'ok'));
    const ready = results.every((r) => r === undefined);
    res.status(ready ? 200 : 503).setHeader('Cache-Control', 'no-store');
    res.json({ status: ready ? 'ready' : 'not ready', checks: report });
  };
}

/** undefined when the check passed; otherwise a one-line reason. */
async function runCheck(check: () => Promise<void>, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`timed out after ${timeoutMs} ms`), timeoutMs);
  });
  try {
    return await Promise.race([check().then(() => undefined), timeout]);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // Node's connect errors can be an AggregateError with an empty message and only a code.
    return (e.message || e.code || String(err)).slice(0, 300);
  } finally {
    clearTimeout(timer);
  }
}
