import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

/**
 * Answers whether a Redis server is reachable and accepts our credentials: AUTH (when the URL has
 * them) and PING over one short-lived connection. A raw RESP exchange rather than a client library:
 * readiness must not share (and wait on) the reconnect loop of the connection it is judging.
 */
export async function pingRedis(url: string, timeoutMs = 2000): Promise<void> {
  const target = new URL(url);
  if (target.protocol !== 'redis:' && target.protocol !== 'rediss:') throw new Error(`unsupported Redis URL scheme ${target.protocol}`);
  const host = target.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(target.port || 6379);
  const commands: string[][] = [];
  if (target.password) {
    const user = decodeURIComponent(target.username);
    commands.push(user ? ['AUTH', user, decodeURIComponent(target.password)] : ['AUTH', decodeURIComponent(target.password)]);
  }
  commands.push(['PING']);

  const socket: Socket = target.protocol === 'rediss:' ? connectTls({ host, port, servername: host }) : connectTcp({ host, port });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer from Redis within ${timeoutMs} ms`)), timeoutMs);
      let buffered = '';
      const replies: string[] = [];
      socket.setEncoding('utf8');
      socket.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.on('data', (data: string) => {
        buffered += data;
        let eol: number;
        while ((eol = buffered.indexOf('\r\n')) >= 0) {
          replies.push(buffered.slice(0, eol));
          buffered = buffered.slice(eol + 2);
        }
        const failed = replies.find((r) => r.startsWith('-'));
        if (failed) {
          clearTimeout(timer);
          reject(new Error(`Redis answered ${failed.slice(1, 200)}`));
        } else if (replies.length >= commands.length) {
          clearTimeout(timer);
          if (replies[replies.length - 1] === '+PONG') resolve();
          else reject(new Error('Redis did not answer PONG'));
        }
      });
      socket.write(commands.map(encode).join(''));
    });
  } finally {
    socket.destroy();
  }
}

/** A command as a RESP array of bulk strings. */
function encode(args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}
