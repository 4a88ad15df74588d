// Glob matching for policy lists (models, tool names, hosts, URLs, skill ids): `*` matches any run of
// characters, `?` one character, everything else literally. A list compiles to ONE regular
// expression, once per policy generation, so matching on the request path is a single regex test.
// Never builds a regex from request data: only from policy text.

export interface GlobSet {
  /** The patterns as the policy wrote them (for messages). */
  readonly patterns: readonly string[];
  test(value: string): boolean;
}

const SPECIAL = /[.+^${}()|[\]\\]/g;

function globSource(pattern: string): string {
  let out = '';
  for (const ch of pattern) {
    if (ch === '*') out += '.*';
    else if (ch === '?') out += '.';
    else out += ch.replace(SPECIAL, '\\$&');
  }
  return out;
}

/** Compiles a list of globs; an empty list matches nothing. */
export function compileGlobs(patterns: readonly string[], opts: { ignoreCase?: boolean } = {}): GlobSet {
  if (patterns.length === 0) return { patterns, test: () => false };
  if (patterns.includes('*')) return { patterns, test: () => true };
  const re = new RegExp(`^(?:${patterns.map(globSource).join('|')})$`, opts.ignoreCase ? 'is' : 's');
  return { patterns, test: (v) => re.test(v) };
}

/**
 * Domain lists: an entry `example.com` covers example.com and every subdomain; `*.example.com`
 * covers subdomains only. Case-insensitive; a trailing dot and a port are ignored.
 */
export function compileDomains(patterns: readonly string[]): GlobSet {
  const expanded: string[] = [];
  for (const p of patterns) {
    const d = normalizeHost(p);
    expanded.push(d);
    if (!d.startsWith('*')) expanded.push(`*.${d}`);
  }
  const set = compileGlobs(expanded, { ignoreCase: true });
  return { patterns, test: (v) => set.test(normalizeHost(v)) };
}

export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  const scheme = h.indexOf('://');
  if (scheme !== -1) h = h.slice(scheme + 3);
  const slash = h.indexOf('/');
  if (slash !== -1) h = h.slice(0, slash);
  if (!h.startsWith('[')) {
    const colon = h.lastIndexOf(':');
    if (colon !== -1 && /^\d+$/.test(h.slice(colon + 1))) h = h.slice(0, colon);
  }
  return h.endsWith('.') ? h.slice(0, -1) : h;
}
