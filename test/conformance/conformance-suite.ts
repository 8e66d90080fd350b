import { afterAll, beforeAll, describe } from 'vitest';
import type { RegistryCapabilities } from './capabilities.js';
import { chunkedPushFlows } from './flows/chunked-push.js';
import { contentDiscoveryFlows } from './flows/content-discovery.js';
import { contentManagementFlows } from './flows/content-management.js';
import { errorCodeFlows } from './flows/error-codes.js';
import { pullFlows } from './flows/pull.js';
import { pushFlows } from './flows/push.js';
import { referrersFlows } from './flows/referrers.js';
import { RegistryClient } from './registry-client.js';

/** A registry the suite runs against: its base URL and how to stop it. */
export interface RegistryUnderTest {
  url: string;
  close(): Promise<void>;
}

/** What every flow module gets: the client (valid once the registry has started) and the flags. */
export interface FlowContext {
  client(): RegistryClient;
  readonly capabilities: RegistryCapabilities;
}

/**
 * The OCI Distribution spec's four workflow categories (pull, push, content discovery, content
 * management) plus the error codes, as a function of a registry's base URL.
 */
export function describeConformance(label: string, start: () => Promise<RegistryUnderTest>, capabilities: RegistryCapabilities): void {
  describe(`OCI distribution-spec conformance: ${label}`, () => {
    let registry: RegistryUnderTest | undefined;
    let client: RegistryClient | undefined;
    beforeAll(async () => {
      registry = await start();
      client = new RegistryClient(registry.url);
    });
    afterAll(async () => {
      await registry?.close();
    });

    const ctx: FlowContext = {
      capabilities,
      client() {
        if (!client) throw new Error('registry under test did not start');
        return client;
      },
    };
    describe('pull', () => pullFlows(ctx));
    describe('push', () => pushFlows(ctx));
    describe('push in chunks', () => chunkedPushFlows(ctx));
    describe('content discovery', () => contentDiscoveryFlows(ctx));
    describe('content management', () => contentManagementFlows(ctx));
    describe('error codes', () => errorCodeFlows(ctx));
    describe('referrers (v1.1)', () => referrersFlows(ctx));
  });
}
