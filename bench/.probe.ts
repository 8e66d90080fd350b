import { startOurs, startPeer, currentRss, peakRss } from './servers.js';
import { pushBlobFile } from './http-load.js';
import { HashingPassThrough, seededBytes } from '../test/helpers/oci-layout.js';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { execFileSync } from 'node:child_process';
const h = new HashingPassThrough('sha256');
await pipeline(seededBytes('probe', 200*1024*1024), h, createWriteStream('/tmp/probe.bin'));
const digest = `sha256:${h.hex()}`;
for (const s of [await startOurs(), await startPeer()]) {
  console.log(s.label, 'rss start', await currentRss(s.pid));
  await pushBlobFile(s.url, 'p/big', '/tmp/probe.bin', 200*1024*1024, digest);
  console.log(s.label, 'rss after push', await currentRss(s.pid), 'hwm', await peakRss(s.pid));
  for (let i = 0; i < 3; i++) console.log(s.label, execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{speed_download}\n', `${s.url}/v2/p/big/blobs/${digest}`]).toString().trim());
  console.log(s.label, 'rss after get', await currentRss(s.pid), 'hwm', await peakRss(s.pid));
  await s.close();
}
