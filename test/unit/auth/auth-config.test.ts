import { afterAll, describe, expect, it } from 'vitest';
import { scratchDirs } from '../../helpers/auth.js';
import { parseConfig } from '../../../src/config/load.js';
import { createAuth } from '../../../src/auth/setup.js';
import { OpenAuthorizer } from '../../../src/auth/authorizer.js';
import { isOciError } from '../../../src/oci/errors.js';
import { createLogger } from '../../../src/log.js';
import { Registry } from 'prom-client';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { ManualClock } from '../../helpers/mirror.js';

const scratch = scratchDirs();
afterAll(() => scratch.cleanup());

describe('auth config', () => {
  it('is off by default: the embedded defaults run an open registry', async () => {
    const config = parseConfig({});
    expect(config.auth.enabled).toBe(false);
    expect(config.auth.defaultVisibility).toBe('private');
    expect(config.auth.tokenTtlSeconds).toBe(300);
    const auth = await createAuth(config, { logger: createLogger('silent'), clock: new ManualClock(), counters: createMetrics(new Registry()) });
    expect(auth.authorizer).toBeInstanceOf(OpenAuthorizer);
    expect(auth.issuer).toBeUndefined();
  });

  it('rejects unknown keys and ambiguous secrets with their path', () => {
    expect(() => parseConfig({ auth: { enabld: true } })).toThrow(/auth/);
    expect(() => parseConfig({ auth: { users: [{ name: 'a', passwordHash: 'plain' }] } })).toThrow(/auth\.users\.0\.passwordHash/);
    expect(() => parseConfig({ auth: { tokens: [{ name: 't', user: 'a', scopes: ['read'], namespaces: ['x'] }] } })).toThrow(/secretHash or secretEnv/);
    expect(() => parseConfig({ auth: { namespaces: [{ prefix: 'Bad Prefix' }] } })).toThrow(/prefix/);
  });

  it('gives mirrored prefixes mirrorVisibility, and resolves env references at start', async () => {
    const base = {
      upstreams: [{ name: 'hub', url: 'http://127.0.0.1:9', prefix: 'docker.io/' }],
      storage: { dataDir: await scratch.make('auth-cfg-') },
    };
    const deps = { logger: createLogger('silent'), clock: new ManualClock(), counters: createMetrics(new Registry()) };
    const wanted = [{ type: 'repository' as const, name: 'docker.io/library/alpine', actions: ['pull' as const] }];
    const req = { baseUrl: 'http://r' };

    const open = await createAuth(parseConfig({ ...base, auth: { enabled: true, mirrorVisibility: 'public' } }), deps);
    await expect(open.authorizer.authorize(req, wanted)).resolves.toMatchObject({ subject: null });
    await expect(open.authorizer.authorize(req, [{ ...wanted[0]!, actions: ['push'] }])).rejects.toSatisfy((e) => isOciError(e, 'UNAUTHORIZED'));

    const closed = await createAuth(parseConfig({ ...base, auth: { enabled: true } }), deps);
    await expect(closed.authorizer.authorize(req, wanted)).rejects.toSatisfy((e) => isOciError(e, 'UNAUTHORIZED'));

    const cfg = parseConfig({ ...base, auth: { enabled: true, users: [{ name: 'ci', passwordEnv: 'CI_PW', access: [{ namespace: '*', scopes: ['read'] }] }] } });
    await expect(createAuth(cfg, deps)).rejects.toThrow(/CI_PW is not set/);
    const withEnv = await createAuth(cfg, { ...deps, env: { CI_PW: 'from-the-env' } });
    const basic = `Basic ${Buffer.from('ci:from-the-env').toString('base64')}`;
    await expect(withEnv.authorizer.authorize({ ...req, authorization: basic }, [{ type: 'repository', name: 'x/y', actions: ['pull'] }])).resolves.toMatchObject({ subject: 'ci' });

    const tokenCfg = parseConfig({
      ...base,
      auth: {
        enabled: true,
        users: [{ name: 'bot', access: [{ namespace: 'x', scopes: ['read', 'write'] }] }],
        tokens: [{ name: 'deploy', user: 'bot', secretEnv: 'DEPLOY_TOKEN', scopes: ['read'], namespaces: ['x'] }],
      },
    });
    const secret = 'rgt_provisioned-from-the-environment-0123456789';
    const withToken = await createAuth(tokenCfg, { ...deps, env: { DEPLOY_TOKEN: secret } });
    const bot = `Basic ${Buffer.from(`bot:${secret}`).toString('base64')}`;
    await expect(withToken.authorizer.authorize({ ...req, authorization: bot }, [{ type: 'repository', name: 'x/y', actions: ['pull'] }])).resolves.toMatchObject({ subject: 'bot' });
    await expect(withToken.authorizer.authorize({ ...req, authorization: bot }, [{ type: 'repository', name: 'x/y', actions: ['push'] }])).rejects.toSatisfy((e) => isOciError(e, 'DENIED'));
  });
});
