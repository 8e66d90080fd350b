import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { promtool } from '../../helpers/metrics.js';

const config = (name: string) => fileURLToPath(new URL(`../../../config/${name}`, import.meta.url));

describe('example Prometheus files in config/', () => {
  it('alerts.yml passes promtool check rules', async () => {
    const { code, output } = await promtool(['check', 'rules', config('alerts.yml')]);
    expect(output).toMatch(/SUCCESS: \d+ rules found/);
    expect(code).toBe(0);
  });

  it('prometheus.yml passes promtool check config (which also checks the rule file it loads)', async () => {
    const { code, output } = await promtool(['check', 'config', config('prometheus.yml')]);
    expect(output).toContain('is valid prometheus config file syntax');
    expect(code).toBe(0);
  });

  it('the alerts fire on the situations they describe and stay quiet on a healthy registry (promtool test rules)', async () => {
    const { code, output } = await promtool(['test', 'rules', config('alerts.test.yml')]);
    expect(output).toContain('SUCCESS');
    expect(code).toBe(0);
  });
});
