/** One parsed `WWW-Authenticate` challenge (RFC 9110 §11.6.1), as registries send them. */
export interface Challenge {
  /** Lower-cased: 'bearer' or 'basic' in practice. */
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate header value into its challenges. Registries send one challenge, but the
 * grammar allows several separated by commas, and quoted values may themselves contain commas
 * (`scope="repository:a:pull,push"`), so this is a small tokenizer rather than a split.
 */
export function parseChallenges(header: string | readonly string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = typeof header === 'string' ? [header] : header;
  const out: Challenge[] = [];
  for (const value of values) parseOne(value, out);
  return out;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

function parseOne(input: string, out: Challenge[]): void {
  let rest = input.trim();
  let current: Challenge | undefined;
  while (rest.length > 0) {
    rest = rest.replace(/^[\s,]+/, '');
    const word = TOKEN.exec(rest)?.[0];
    if (!word) break;
    const after = rest.slice(word.length);
    const param = /^\s*=\s*/.exec(after);
    if (param && current) {
      // name=value or name="quoted value"
      rest = after.slice(param[0].length);
      let value: string;
      if (rest.startsWith('"')) {
        let i = 1;
        value = '';
        while (i < rest.length && rest[i] !== '"') {
          if (rest[i] === '\\' && i + 1 < rest.length) i++;
          value += rest[i];
          i++;
        }
        rest = rest.slice(i + 1);
      } else {
        const m = /^[^,\s]*/.exec(rest)![0];
        value = m;
        rest = rest.slice(m.length);
      }
      current.params[word.toLowerCase()] = value;
      continue;
    }
    // A new scheme (token68 forms such as `Basic abc==` are not used by registries' challenges).
    current = { scheme: word.toLowerCase(), params: {} };
    out.push(current);
    rest = after;
  }
}

/** The Bearer challenge, if any, else the Basic one. */
export function pickChallenge(challenges: readonly Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer' && c.params.realm) ?? challenges.find((c) => c.scheme === 'basic');
}
