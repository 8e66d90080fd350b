import { FULL_V1_1 } from '../../conformance/capabilities.js';
import { describeConformance } from '../../conformance/conformance-suite.js';
import { startRegistry } from '../../helpers/registry.js';
import { S3_ENV, startS3 } from '../../helpers/s3.js';

// The distribution-spec flows, on a registry whose blobs and upload sessions live in S3 (s3rver on loopback).
describeConformance(
  'our registry on S3 storage',
  async () => {
    // s3rver in its own process: it then runs beside the registry instead of sharing its thread.
    const s3 = await startS3({ child: true });
    const registry = await startRegistry({ storage: s3.storage() }, { env: S3_ENV });
    return {
      url: registry.url,
      async close() {
        await registry.close();
        await s3.close();
      },
    };
  },
  FULL_V1_1,
);
