/**
 * Reads an Apache htpasswd file, as Distribution's htpasswd auth does. Only bcrypt entries count
 * (htpasswd -B); MD5/SHA1/crypt entries are weak, so they are reported and ignored.
 */
export interface HtpasswdEntries {
  readonly users: ReadonlyMap<string, string>;
  readonly ignored: readonly string[];
}

export function parseHtpasswd(text: string): HtpasswdEntries {
  const users = new Map<string, string>();
  const ignored: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (/^\$2[abxy]?\$\d{2}\$/.test(hash)) users.set(name, hash);
    else ignored.push(name);
  }
  return { users, ignored };
}
