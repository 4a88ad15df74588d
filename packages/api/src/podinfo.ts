// The pod's labels (or annotations) as the kubelet writes them into a downward API volume file
// (`fieldRef: metadata.labels`), parsed back into a map. The injector mounts that file into the
// sidecar at /etc/skillgate/podinfo/labels (SKILLGATE_POD_LABELS_FILE) so SkillPolicy selectors can
// match the pod's labels, and the kubelet rewrites it when labels change.
//
// Format (k8s.io/kubernetes pkg/fieldpath FormatMap): one `key="value"` per line, keys sorted,
// lines joined by "\n" with no trailing newline, the value quoted by Go's strconv.Quote: `\"` `\\`
// `\a \b \f \n \r \t \v`, `\xHH` for bytes that are not UTF-8, `\uHHHH`/`\UHHHHHHHH` for
// non-printable runes; printable Unicode stays as UTF-8. Keys are never quoted (a label key has no
// `=`, `"` or newline). Pure: never reads the file itself, never guesses at a malformed line.

export const POD_LABELS_FILE_ENV = 'SKILLGATE_POD_LABELS_FILE';
export const POD_LABELS_FILE = '/etc/skillgate/podinfo/labels';

/** A line of a downward API map file that is not `key="value"`; names the line (1-based). */
export class PodInfoFormatError extends Error {
  constructor(readonly line: number, reason: string) {
    super(`pod info file, line ${line}: ${reason}`);
    this.name = 'PodInfoFormatError';
  }
}

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = {
  a: 0x07, b: 0x08, f: 0x0c, n: 0x0a, r: 0x0d, t: 0x09, v: 0x0b, '\\': 0x5c, '"': 0x22, "'": 0x27,
};
const HEX = /^[0-9a-fA-F]+$/;
const utf8 = new TextEncoder();

/**
 * Decodes one Go double-quoted string literal (quotes included) as strconv.Unquote does. Escapes
 * that name single bytes (`\xHH`, octal `\ooo`) are gathered as bytes and decoded as UTF-8 with the
 * text around them, so a multi-byte character split into byte escapes comes back whole.
 */
function unquoteGo(literal: string, line: number): string {
  if (literal.length < 2 || literal[0] !== '"' || literal[literal.length - 1] !== '"') {
    throw new PodInfoFormatError(line, 'the value is not a double-quoted string');
  }
  const bytes: number[] = [];
  const pushText = (s: string): void => { for (const b of utf8.encode(s)) bytes.push(b); };
  const end = literal.length - 1;
  let i = 1;
  while (i < end) {
    const ch = literal[i]!;
    if (ch === '"') throw new PodInfoFormatError(line, 'unescaped " inside the value');
    if (ch !== '\\') {
      // Copy the run of plain text up to the next escape or quote in one go.
      let j = i + 1;
      while (j < end && literal[j] !== '\\' && literal[j] !== '"') j++;
      pushText(literal.slice(i, j));
      i = j;
      continue;
    }
    const kind = literal[i + 1];
    if (kind === undefined || i + 1 >= end) throw new PodInfoFormatError(line, 'the value ends in a lone backslash');
    const simple = SIMPLE_ESCAPES[kind];
    if (simple !== undefined) {
      bytes.push(simple);
      i += 2;
      continue;
    }
    const digits = kind === 'x' ? 2 : kind === 'u' ? 4 : kind === 'U' ? 8 : /[0-7]/.test(kind) ? 3 : 0;
    if (digits === 0) throw new PodInfoFormatError(line, `unknown escape \\${kind}`);
    const start = kind >= '0' && kind <= '7' ? i + 1 : i + 2;
    const code = literal.slice(start, start + digits);
    if (code.length !== digits || start + digits > end) throw new PodInfoFormatError(line, `short escape \\${kind}${code}`);
    if (kind === 'x' || kind === 'u' || kind === 'U') {
      if (!HEX.test(code)) throw new PodInfoFormatError(line, `bad hex digits in \\${kind}${code}`);
    } else if (!/^[0-7]{3}$/.test(code)) {
      throw new PodInfoFormatError(line, `bad octal escape \\${code}`);
    }
    const value = parseInt(code, kind === 'x' || kind === 'u' || kind === 'U' ? 16 : 8);
    if (kind === 'x') bytes.push(value);
    else if (kind === 'u' || kind === 'U') {
      if (value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) throw new PodInfoFormatError(line, `\\${kind}${code} is not a Unicode scalar value`);
      pushText(String.fromCodePoint(value));
    } else {
      if (value > 0xff) throw new PodInfoFormatError(line, `octal escape \\${code} is above \\377`);
      bytes.push(value);
    }
    i = start + digits;
  }
  // Bytes that are not UTF-8 (only reachable through \x or octal escapes) become U+FFFD, as JSON
  // would have made them before the value reached the API server.
  return new TextDecoder('utf-8').decode(Uint8Array.from(bytes));
}

/**
 * Parses the kubelet's downward API file for `metadata.labels` (or `metadata.annotations`) into a
 * key → value map. Empty lines are skipped (the file has no trailing newline, but a hand-written one
 * may); any other line that is not `key="value"` throws PodInfoFormatError naming the line.
 */
export function parsePodLabelsFile(text: string): Record<string, string> {
  const entries: Array<[string, string]> = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!;
    const lineText = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (lineText === '') continue;
    const eq = lineText.indexOf('=');
    if (eq <= 0) throw new PodInfoFormatError(n + 1, eq === 0 ? 'empty key' : 'no "=" between key and value');
    entries.push([lineText.slice(0, eq), unquoteGo(lineText.slice(eq + 1), n + 1)]);
  }
  // fromEntries defines own properties, so a key like "__proto__" is data, never a prototype.
  return Object.fromEntries(entries);
}
