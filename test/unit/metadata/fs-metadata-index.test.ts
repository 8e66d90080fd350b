import { mkdir, rm } from 'node:fs/promises';
import { FsMetadataIndex } from '../../../src/metadata/fs-metadata-index.js';
import { Layout } from '../../../src/storage/layout.js';
import { tmpDir } from '../../helpers/registry.js';
import { metadataIndexSuite } from '../../suites/metadata-index-suite.js';

metadataIndexSuite('files (FsMetadataIndex)', async () => {
  const dir = await tmpDir('fs-index-');
  const layout = new Layout(dir);
  await mkdir(layout.tmpDir, { recursive: true });
  return { index: new FsMetadataIndex(layout), cleanup: () => rm(dir, { recursive: true, force: true }) };
});
