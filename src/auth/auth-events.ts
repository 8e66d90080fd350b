import type { Logger } from 'pino';
import type { LoginMethod } from './policy.js';

/** The two counters of metrics/metrics.ts that access control feeds; structural, so auth/ needs no metrics import. */
export interface AuthCounters {
  readonly authLogins: { inc(labels: { method: string; result: string }): void };
  readonly authDenials: { inc(labels: { reason: string }): void };
  readonly authJwksFetches: { inc(labels: { issuer: string; result: string }): void };
}

export interface DenialInfo {
  readonly reason: string;
  readonly ip?: string;
  readonly user?: string;
  readonly scope?: string;
}

/** Logs and counts logins and denials in one place, so no path forgets either (and none logs a secret). */
export class AuthEvents {
  constructor(
    private readonly logger: Logger,
    private readonly counters: AuthCounters,
  ) {}

  login(result: 'success' | 'failure' | 'rate_limited', info: { ip?: string; user?: string; reason?: string; method: LoginMethod }): void {
    this.counters.authLogins.inc({ method: info.method, result });
    if (result !== 'success') this.logger.warn({ ip: info.ip, user: info.user, method: info.method, reason: info.reason, result }, 'login failed');
  }

  /** A fetch of an OIDC issuer's discovery document or JWKS (the issuer label is bounded by the config). */
  jwksFetch(issuer: string, result: 'success' | 'failure', error?: string): void {
    this.counters.authJwksFetches.inc({ issuer, result });
    if (result === 'failure') this.logger.warn({ issuer, error }, 'OIDC issuer keys could not be fetched; cached keys stay in use');
  }

  denial(info: DenialInfo): void {
    this.counters.authDenials.inc({ reason: info.reason });
    // A missing credential is every client's first step (the ping before docker login), not an incident.
    const level = info.reason === 'no_credentials' ? 'info' : 'warn';
    this.logger[level]({ reason: info.reason, ip: info.ip, user: info.user, scope: info.scope }, 'access denied');
  }
}
