import { createServer } from 'node:http';
import { createReadStream, statSync, open as openCb } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
const openFd = promisify(openCb);
const size = statSync('/tmp/probe.bin').size;
const hwm = Number(process.env.HWM ?? 1048576);
async function handler(req, res) {
  res.setHeader('Content-Length', size);
  let src;
  if (process.env.MODE === 'handle') src = (await open('/tmp/probe.bin', 'r')).createReadStream({ highWaterMark: hwm });
  else if (process.env.MODE === 'fd') src = createReadStream('', { fd: await openFd('/tmp/probe.bin', 'r'), highWaterMark: hwm });
  else src = createReadStream('/tmp/probe.bin', { highWaterMark: hwm });
  await pipeline(src, res).catch(() => {});
}
const s = createServer(handler).listen(0, '127.0.0.1', () => console.log(s.address().port));
