export type ParsedAuthorization =
  | { scheme: 'basic'; user: string; password: string }
  | { scheme: 'bearer'; token: string }
  | { scheme: 'other' };

/** Splits an Authorization header; undefined when there is none (an anonymous caller). */
export function parseAuthorization(header: string | undefined): ParsedAuthorization | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const value = space < 0 ? '' : header.slice(space + 1).trim();
  if (scheme === 'bearer' && value !== '') return { scheme: 'bearer', token: value };
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    // A Basic header without a colon is malformed: treated like a wrong password, not as anonymous.
    if (colon < 0) return { scheme: 'basic', user: decoded, password: '' };
    return { scheme: 'basic', user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return { scheme: 'other' };
}
