/** Display formats shared by the pages. */

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function date(ms: number | undefined): string {
  if (ms === undefined) return '—';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** rwx form of a tar mode, with the type letter `ls -l` and `tar -tv` print. */
export function modeString(type: string, mode: number): string {
  const letter = type === 'directory' ? 'd' : type === 'symlink' ? 'l' : type === 'link' ? 'h' : type === 'file' ? '-' : '?';
  const bits = 'rwxrwxrwx';
  let out = '';
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? bits[i] : '-';
  return letter + out;
}

export function shortDigest(d: string): string {
  const [alg, hex] = d.split(':');
  return `${alg}:${(hex ?? '').slice(0, 12)}`;
}
