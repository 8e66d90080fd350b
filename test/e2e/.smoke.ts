import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { OciLayout } from '../helpers/oci-layout.js';
import { startDistribution } from '../helpers/distribution.js';
import { startRegistry } from '../helpers/registry.js';
const run = promisify(execFile);
const l = await OciLayout.create('/tmp/smoke/layout');
const img = await l.addImage({ layerSizes: [1000, 200000], seed: 'x' }, 'v1');
const idx = await l.addIndex({ layerSizes: [5000], seed: 'y' }, 'multi');
await l.finish();
console.log(img.manifest.digest, idx.index.digest);
const d = await startDistribution();
const r = await startRegistry();
for (const h of [d.host, r.host]) {
  console.log(h, (await run('skopeo', ['copy', '--dest-tls-verify=false', l.reference('v1'), `docker://${h}/myorg/team/app:1`], {timeout: 30000})).stdout);
  console.log((await run('skopeo', ['copy', '--all', '--dest-tls-verify=false', l.reference('multi'), `docker://${h}/myorg/team/app:multi`], {timeout: 30000})).stdout);
  console.log((await run('skopeo', ['inspect', '--tls-verify=false', `docker://${h}/myorg/team/app:1`], {timeout: 30000})).stdout);
}
await d.close(); await r.close();
