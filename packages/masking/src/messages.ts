// Structure-aware masking of Claude Messages bodies. What Claude and the skill exchange has masked
// the places people put text — system, messages[].content, text/document/tool_result blocks, the
// tools' descriptions and the free text of their input schemas (descriptions, titles, defaults,
// enums, examples), tool_use inputs (their string values read with their member names as context,
// their numbers and member names too: json-values.ts), thinking only when the policy says so — and
// everything else left alone: ids, signatures, model and tool names, schema keywords and property
// names, base64 media, cache_control, encrypted search results, URLs Claude fetches.
// The record's copy (`forRecord`) masks more, as nothing reads it but people: thinking (whatever the
// policy: signatures matter only on the wire), server tool results (a fetched page, code execution
// output, search result titles — the API may not take back a server result that was changed), and
// every other string of the body — metadata, stop_sequences, MCP server URLs, URL sources,
// citations' titles… — except structural members (STRUCTURAL: ids, types, names, signatures,
// encrypted or base64 payloads); base64 media are in it by digest only. A request walk for the wire
// also says whether the record's walk would come out different (recordDiffers), so a rewriting mode
// masks a body twice only when it must. Never mutates its input.
// A request's walk is on the request's latency path, and a session resends the same system prompt,
// tools and history every turn: texts come from the masker's memo (memo.ts), a resent tools array or
// tool input found clean before is passed over whole (Walker.resent), and nothing is copied that
// nothing was masked in (put).
import { createHash } from 'node:crypto';
import { isRawJsonNumber, isRecord, jsonNumberText } from '@skillgate/wire';
import type { Finding } from './entities.js';
import type { MaskResult } from './masker.js';
import { keyContext } from './json-values.js';
import type { CleanParts } from './clean-parts.js';

export interface BodyMaskResult {
  body: unknown;
  findings: Finding[];
  /** Base64 media (images, PDFs) the body carries; the record's copy has each by digest (Walker.digestOnly). */
  media?: number;
  /**
   * A request walk that is not forRecord: the record's walk of the same body would come out
   * different (something only the record masks holds a value, or base64 media the record keeps by
   * digest), so the record must mask the body itself rather than reuse this copy.
   */
  recordDiffers?: boolean;
}

/** How much base64 text is decoded at a time to hash a blob left out of the record (a multiple of 4). */
const HASH_SLICE = 4 * 1024 * 1024;

/** Masks a text; with `context`, the text as it reads after it (a JSON value after its member's name). */
type TextMasker = (text: string, context?: string) => MaskResult;

const join = (path: string, member: string): string => (path ? `${path}.${member}` : member);

/** What a walk masks besides the text people put in a body. */
export interface WalkOptions {
  /** Thinking blocks (the policy's `thinking`; the record's walk masks them whatever it says). */
  thinking: boolean;
  /**
   * The record's copy: also thinking, server tool results (web fetch pages, code execution
   * stdout/stderr and files, search result titles) and every other string but structural members,
   * which the API keeps as sent.
   */
  forRecord?: boolean;
}

/** The block types that carry a server tool's result. */
const SERVER_RESULTS = new Set(['web_fetch_tool_result', 'web_search_tool_result', 'code_execution_tool_result',
  'bash_code_execution_tool_result', 'text_editor_code_execution_tool_result']);

/**
 * Members whose string values are structure, not text: the record's walk of what no other rule
 * reads leaves them as they are — ids, types and roles, model, tool and server names (policies
 * match them), signatures, encrypted and base64 payloads, file and container ids, versions.
 */
const STRUCTURAL = new Set(['id', 'type', 'role', 'model', 'name', 'signature', 'media_type', 'tool_use_id', 'data',
  'encrypted_content', 'encrypted_index', 'file_id', 'container', 'container_id', 'skill_id', 'version', 'ttl', 'service_tier', 'stop_reason']);

/** Members of answers of other routes (OpenAI-compatible chunks, object lists) that are structure too. */
const ANSWER_STRUCTURAL = new Set(['object', 'created', 'created_at', 'expires_at', 'system_fingerprint', 'finish_reason', 'processing_status', 'status']);

/** Member names that say their value is a credential. */
const CREDENTIAL = /token|secret|passw|api_?key|auth|credential/i;

// The members each rule reads for the wire; the record's walk reads the rest of a block (`others`).
const NONE: ReadonlySet<string> = new Set();
const PARAMS_READ = new Set(['system', 'messages', 'prompt', 'tools', 'requests', 'output_format', 'output_config']);
const MESSAGE_READ = new Set(['content']);
const TEXT_READ = new Set(['text', 'citations']);
const INPUT_READ = new Set(['input']);
const CONTENT_READ = new Set(['content']);
const SOURCE_READ = new Set(['source']);
const DOCUMENT_READ = new Set(['source', 'context', 'title']);
const SEARCH_RESULT_READ = new Set(['content', 'title', 'source']);
const THINKING_READ = new Set(['thinking']);
const CITATION_READ = new Set(['cited_text']);
const TOOL_READ = new Set(['description', 'input_schema', 'input_examples']);
const OUTPUT_FORMAT_READ = new Set(['schema']);
const OUTPUT_CONFIG_READ = new Set(['format']);
const RESPONSE_READ = new Set(['content']);
const SERVER_OUTPUT_READ = new Set(['title', 'stdout', 'stderr', 'content']);

/**
 * The JSON Schema keywords the walk reads, by what they hold: free text (`text`), instances —
 * people put examples of real data there — (`instances`), a schema or an array of schemas
 * (`schema`), a map of names to schemas (`schemas`). Any other keyword (type, required, pattern,
 * format...) is structure Claude must get as it is.
 */
type Keyword = 'text' | 'instances' | 'schema' | 'schemas';
const SCHEMA_KEYWORDS = new Map<string, Keyword>([
  ...['description', 'title', '$comment'].map((k) => [k, 'text'] as const),
  ...['default', 'const', 'enum', 'examples'].map((k) => [k, 'instances'] as const),
  ...['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames', 'unevaluatedProperties',
    'unevaluatedItems', 'additionalItems', 'allOf', 'anyOf', 'oneOf', 'prefixItems'].map((k) => [k, 'schema'] as const),
  ...['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'].map((k) => [k, 'schemas'] as const),
]);

class Walker {
  readonly findings: Finding[] = [];
  media = 0;
  /** See BodyMaskResult.recordDiffers (found while `probe`). */
  recordDiffers = false;
  private readonly thinking: boolean;
  readonly forRecord: boolean;
  /** A request walk for the wire that also finds out whether the record's walk would differ. */
  private readonly probe: boolean;
  private recordWalker: Walker | undefined;
  /** A request walk's: the resent parts this masker found clean before (resent). */
  private readonly clean: CleanParts | undefined;
  constructor(private readonly mask: TextMasker, opts: WalkOptions, probe = false, clean?: CleanParts) {
    this.forRecord = opts.forRecord === true;
    this.thinking = opts.thinking || this.forRecord;
    this.probe = probe && !this.forRecord;
    this.clean = clean;
  }

  /**
   * A part a request resends every turn (the tools, a tool call's input) under `key`: passed over
   * as it is when this masker found an identical copy clean before (CleanParts), else walked — and
   * kept as clean when the walk changed nothing, found nothing and, on the wire, the record's walk
   * of it would find nothing either (a walk that stopped probing, recordDiffers already known,
   * cannot tell).
   */
  resent<T>(key: string, part: T, walk: () => T): T {
    const clean = this.clean;
    if (clean === undefined) return walk();
    if (clean.has(key, part)) return part;
    const findings = this.findings.length;
    const media = this.media;
    const probed = this.forRecord || (this.probe && !this.recordDiffers);
    const out = walk();
    if (out !== part || this.findings.length !== findings || this.media !== media || (probed && this.recordDiffers)) clean.forget(key);
    else if (probed) clean.add(key, part);
    return out;
  }

  text(s: string, path: string, context?: string): string {
    const r = context ? this.mask(s, context) : this.mask(s);
    for (const f of r.findings) this.findings.push({ ...f, path });
    return r.masked;
  }

  /**
   * A part of the body only the record masks: its masked copy on the record's walk. On the wire
   * it stays `original`; a probing walk masks it aside to learn whether the record's copy differs.
   */
  private recordOnly<T>(original: T, walk: (w: Walker) => T): T {
    if (this.forRecord) return walk(this);
    if (this.probe && !this.recordDiffers) {
      const w = (this.recordWalker ??= new Walker(this.mask, { thinking: true, forRecord: true }));
      walk(w);
      if (w.findings.length > 0 || w.media > 0) this.recordDiffers = true;
    }
    return original;
  }

  /**
   * The members of `b` that no rule of the wire reads (`read`) and that are not structural: the
   * record masks them (rest). `out` is `b`'s copy so far, if any; returned: the copy after (made
   * here if one of them changed: put).
   */
  others(b: Record<string, unknown>, out: Record<string, unknown> | undefined, read: ReadonlySet<string>, path: string): Record<string, unknown> | undefined {
    if (!this.forRecord && (!this.probe || this.recordDiffers)) return out;
    for (const k in b) {
      if (read.has(k) || STRUCTURAL.has(k)) continue;
      const v = b[k];
      // A number right in a block or in the request's parameters is a count or a setting (max_tokens,
      // temperature): not looked up on every request. Numbers inside its objects are read (rest).
      if (typeof v !== 'string' && (v === null || typeof v !== 'object')) continue;
      out = put(out, b, k, this.recordOnly(v, (w) => w.rest(v, join(path, k), k)));
    }
    return out;
  }

  /**
   * The record's walk of what no rule reads: every string masked as text, structural members kept.
   * A member named as a credential (an MCP server's authorization_token) is read after its name,
   * which makes a random-looking value an assigned secret; other names are no context here (a
   * search result's page_age "April 30, 2026" is no date of birth).
   */
  rest(v: unknown, path: string, member: string): unknown {
    if (typeof v === 'string') {
      if (STRUCTURAL.has(member)) return v;
      return this.text(v, path, CREDENTIAL.test(member) ? keyContext(member) : undefined);
    }
    if (typeof v === 'number' || isRawJsonNumber(v)) return STRUCTURAL.has(member) ? v : this.number(v, path, CREDENTIAL.test(member) ? keyContext(member) : '');
    if (Array.isArray(v)) return sameOr(v, v.map((x, i) => this.rest(x, `${path}[${i}]`, member)));
    if (isRecord(v)) {
      const out: Record<string, unknown> = { ...v };
      for (const [k, x] of Object.entries(v)) setMember(out, k, this.rest(x, join(path, k), k));
      return sameOr(v, out);
    }
    return v;
  }

  /**
   * A JSON number read as text after `context` (json-values.ts): as it is when nothing is found in
   * it, else its masked text (a JSON string: {"card": 4111111111111111} → {"card": "[CREDIT_CARD]"}).
   */
  number(v: unknown, path: string, context: string): unknown {
    const digits = jsonNumberText(v);
    if (digits === undefined) return v;
    const r = context ? this.mask(digits, context) : this.mask(digits);
    if (r.findings.length === 0) return v;
    for (const f of r.findings) this.findings.push({ ...f, path });
    return r.masked;
  }

  /**
   * The record's copy of base64 media (an image, a PDF): no detector reads inside it, so it is left
   * out — the record keeps its type, size and SHA-256 (of the decoded bytes, as `sha256sum` of the
   * file gives), never bytes that may show a person's data. Claude's copy is never changed.
   */
  digestOnly(src: Record<string, unknown>): Record<string, unknown> {
    if (typeof src.data !== 'string') return src;
    // Decoded a slice at a time (a multiple of 4 characters: whole base64 groups), line breaks
    // (MIME's 76-character lines) out first so that no group straddles two slices.
    const data = /\s/.test(src.data) ? src.data.replace(/\s+/g, '') : src.data;
    const hash = createHash('sha256');
    let bytes = 0;
    for (let i = 0; i < data.length; i += HASH_SLICE) {
      const part = Buffer.from(data.slice(i, i + HASH_SLICE), 'base64');
      bytes += part.length;
      hash.update(part);
    }
    return { ...src, data: `[omitted from the record: ${bytes} bytes, sha256 ${hash.digest('hex')}]` };
  }

  /**
   * A tool's input (json-values.ts): string values masked with their member's name as context (an
   * array's items with the array's), numbers read as text with it — one that holds a value becomes
   * its masked text, a JSON string — and member names masked as text of their own. Names that mask
   * alike ("[EMAIL_ADDRESS]") become one member, the last one's value, as JSON.parse reads the stream's output.
   */
  input(v: unknown, path: string, context: string): unknown {
    if (typeof v === 'string') return this.text(v, path, context);
    if (typeof v === 'number' || isRawJsonNumber(v)) return this.number(v, path, context);
    if (Array.isArray(v)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) out = putItem(out, v, i, this.input(v[i], `${path}[${i}]`, context));
      return out ?? v;
    }
    if (isRecord(v)) {
      // The copy is made at the first member that changes (its name or its value), from the members
      // before it as they are: an input with nothing to mask is not copied.
      let out: Record<string, unknown> | undefined;
      for (const k of Object.keys(v)) {
        const x = v[k];
        const r = this.mask(k);
        const name = r.masked;
        const at = join(path, name);
        for (const f of r.findings) this.findings.push({ ...f, path: at });
        const y = this.input(x, at, keyContext(k));
        if (out === undefined && (name !== k || y !== x)) {
          out = {};
          for (const before of Object.keys(v)) {
            if (before === k) break;
            setMember(out, before, v[before]);
          }
        }
        if (out !== undefined) setMember(out, name, y);
      }
      return out ?? v;
    }
    return v;
  }

  /**
   * Every string value of a JSON answer masked on its own, member names kept (maskAnswerBody), but
   * the structural ones (STRUCTURAL, ANSWER_STRUCTURAL, `…_id`): an id that reads like a password
   * (`chatcmpl-B9MBs8Cj…`) stays the id the skill and a responder look it up by.
   */
  strings(v: unknown, path: string): unknown {
    if (typeof v === 'string') return this.text(v, path);
    if (Array.isArray(v)) return v.map((x, i) => this.strings(x, `${path}[${i}]`));
    if (isRecord(v)) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        setMember(out, k, typeof x === 'string' && (STRUCTURAL.has(k) || ANSWER_STRUCTURAL.has(k) || k.endsWith('_id')) ? x : this.strings(x, join(path, k)));
      }
      return out;
    }
    return v;
  }

  content(c: unknown, path: string): unknown {
    if (typeof c === 'string') return this.text(c, path);
    if (Array.isArray(c)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < c.length; i++) out = putItem(out, c, i, this.block(c[i], `${path}[${i}]`));
      return out ?? c;
    }
    return c;
  }

  message(m: unknown, path: string): unknown {
    if (!isRecord(m)) return m;
    let out: Record<string, unknown> | undefined;
    if ('content' in m) out = put(out, m, 'content', this.content(m.content, `${path}.content`));
    return this.others(m, out, MESSAGE_READ, path) ?? m;
  }

  block(b: unknown, path: string): unknown {
    if (!isRecord(b)) return b;
    if (typeof b.type === 'string' && SERVER_RESULTS.has(b.type)) {
      if (!this.forRecord) return this.recordOnly(b, (w) => w.block(b, path));
      const out: Record<string, unknown> = { ...b };
      if ('content' in b) out.content = this.serverResult(b.content, `${path}.content`);
      this.others(b, out, CONTENT_READ, path);
      return out;
    }
    // Copied on the first change (put): a block with nothing to mask is returned as it is.
    let out: Record<string, unknown> | undefined;
    let read = NONE;
    switch (b.type) {
      case 'text':
        read = TEXT_READ;
        if (typeof b.text === 'string') out = put(out, b, 'text', this.text(b.text, `${path}.text`));
        if (Array.isArray(b.citations)) out = put(out, b, 'citations', sameOr(b.citations, b.citations.map((c, i) => this.citation(c, `${path}.citations[${i}]`))));
        break;
      case 'tool_use': case 'server_tool_use': case 'mcp_tool_use': {
        read = INPUT_READ;
        const input = b.input;
        // Resent with every later turn, under the call's id.
        if (typeof b.id === 'string' && isRecord(input)) out = put(out, b, 'input', this.resent(`input ${b.id}`, input, () => this.input(input, `${path}.input`, '')));
        else if ('input' in b) out = put(out, b, 'input', this.input(input, `${path}.input`, ''));
        break;
      }
      case 'tool_result': case 'mcp_tool_result':
        read = CONTENT_READ;
        if ('content' in b) out = put(out, b, 'content', this.content(b.content, `${path}.content`));
        break;
      case 'image':
        if (isRecord(b.source) && b.source.type === 'base64') {
          read = SOURCE_READ;
          this.media++;
          if (this.forRecord) out = put(out, b, 'source', this.digestOnly(b.source));
        }
        break;
      case 'document': {
        read = DOCUMENT_READ;
        const src = b.source;
        if (isRecord(src)) {
          if (src.type === 'text' && typeof src.data === 'string') out = put(out, b, 'source', sameOr(src, { ...src, data: this.text(src.data, `${path}.source.data`) }));
          else if (src.type === 'base64') {
            this.media++;
            if (this.forRecord) out = put(out, b, 'source', this.digestOnly(src));
          } else if (src.type === 'content') out = put(out, b, 'source', sameOr(src, { ...src, content: this.content(src.content, `${path}.source.content`) }));
          else out = put(out, b, 'source', this.recordOnly(src, (w) => w.rest(src, `${path}.source`, 'source'))); // a URL or a file id
        }
        if (typeof b.context === 'string') out = put(out, b, 'context', this.text(b.context, `${path}.context`));
        if (typeof b.title === 'string') out = put(out, b, 'title', this.text(b.title, `${path}.title`));
        break;
      }
      case 'search_result':
        read = SEARCH_RESULT_READ;
        if ('content' in b) out = put(out, b, 'content', this.content(b.content, `${path}.content`));
        if (typeof b.title === 'string') out = put(out, b, 'title', this.text(b.title, `${path}.title`));
        if (typeof b.source === 'string') out = put(out, b, 'source', this.text(b.source, `${path}.source`));
        break;
      case 'thinking':
        read = THINKING_READ;
        if (typeof b.thinking === 'string') {
          const thinking = b.thinking;
          const at = `${path}.thinking`;
          // Signed: changed on the wire only when the policy says so; the record masks it anyway.
          out = put(out, b, 'thinking', this.thinking ? this.text(thinking, at) : this.recordOnly(thinking, (w) => w.text(thinking, at)));
        }
        break;
      default:
        // redacted_thinking (encrypted), container uploads, media by URL or file id...: left alone on
        // the wire; the record masks their strings but the structural ones.
    }
    return this.others(b, out, read, path) ?? b;
  }

  /**
   * A server tool result's content: a fetched page (a document block), search results (their
   * titles; the rest is encrypted), or code execution output (stdout, stderr, a file's text).
   */
  serverResult(c: unknown, path: string): unknown {
    if (Array.isArray(c)) return c.map((x, i) => this.serverResult(x, `${path}[${i}]`));
    if (!isRecord(c)) return c;
    const out: Record<string, unknown> = { ...c };
    if (c.type === 'web_fetch_result') {
      if ('content' in c) out.content = this.block(c.content, `${path}.content`);
      this.others(c, out, CONTENT_READ, path);
      return out;
    }
    for (const k of SERVER_OUTPUT_READ) {
      const v = c[k];
      if (typeof v === 'string') out[k] = this.text(v, `${path}.${k}`);
      else if (k === 'content' && v !== undefined) out[k] = this.serverResult(v, `${path}.${k}`);
    }
    this.others(c, out, SERVER_OUTPUT_READ, path);
    return out;
  }

  citation(c: unknown, path: string): unknown {
    if (!isRecord(c)) return c;
    const out: Record<string, unknown> = { ...c };
    if (typeof c.cited_text === 'string') out.cited_text = this.text(c.cited_text, `${path}.cited_text`);
    this.others(c, out, CITATION_READ, path);
    return sameOr(c, out);
  }

  /** Tool definitions: their descriptions and their input schemas' free text; names and schema structure stay. */
  tools(tools: unknown[], path: string): unknown[] {
    let out: unknown[] | undefined;
    for (let i = 0; i < tools.length; i++) out = putItem(out, tools, i, this.tool(tools[i], `${path}[${i}]`));
    return out ?? tools;
  }

  private tool(t: unknown, at: string): unknown {
    if (!isRecord(t)) return t;
    let out: Record<string, unknown> | undefined;
    if (typeof t.description === 'string') out = put(out, t, 'description', this.text(t.description, `${at}.description`));
    if ('input_schema' in t) out = put(out, t, 'input_schema', this.schema(t.input_schema, `${at}.input_schema`));
    // Examples of the tool's input: read as a tool call's input is (input).
    if (Array.isArray(t.input_examples)) out = put(out, t, 'input_examples', this.input(t.input_examples, `${at}.input_examples`, ''));
    return this.others(t, out, TOOL_READ, at) ?? t;
  }

  /**
   * Structured outputs: `output_format` ({type: 'json_schema', schema}) and `output_config`
   * ({format: {…}, …}). Their schema is walked as a tool's input schema is; the rest goes to the
   * API as sent and is masked in the record.
   */
  outputFormat(f: unknown, path: string): unknown {
    if (!isRecord(f)) return f;
    let out: Record<string, unknown> | undefined;
    if ('schema' in f) out = put(out, f, 'schema', this.schema(f.schema, `${path}.schema`));
    return this.others(f, out, OUTPUT_FORMAT_READ, path) ?? f;
  }

  outputConfig(c: unknown, path: string): unknown {
    if (!isRecord(c)) return c;
    let out: Record<string, unknown> | undefined;
    if ('format' in c) out = put(out, c, 'format', this.outputFormat(c.format, `${path}.format`));
    return this.others(c, out, OUTPUT_CONFIG_READ, path) ?? c;
  }

  /**
   * A JSON Schema: the text in it (descriptions, titles, comments) and the instances people give as
   * examples of the data (default, const, enum, examples: their strings); keywords, property
   * names, types, patterns and formats are structure Claude must get as they are.
   */
  schema(s: unknown, path: string): unknown {
    if (Array.isArray(s)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < s.length; i++) out = putItem(out, s, i, this.schema(s[i], `${path}[${i}]`));
      return out ?? s;
    }
    if (!isRecord(s)) return s;
    // One lookup a member: most are keywords that hold no text (type, required, pattern...), passed
    // over without a path made for them.
    let out: Record<string, unknown> | undefined;
    for (const k of Object.keys(s)) {
      const kind = SCHEMA_KEYWORDS.get(k);
      if (kind === undefined) continue;
      const v = s[k];
      let m = v;
      if (kind === 'text') {
        if (typeof v === 'string') m = this.text(v, join(path, k));
      } else if (kind === 'instances') m = this.instance(v, join(path, k));
      else if (kind === 'schema') m = this.schema(v, join(path, k));
      else if (isRecord(v)) {
        const at = join(path, k);
        let map: Record<string, unknown> | undefined;
        for (const name of Object.keys(v)) map = put(map, v, name, this.schema(v[name], join(at, name)));
        if (map !== undefined) m = map;
      }
      out = put(out, s, k, m);
    }
    return out ?? s;
  }

  /**
   * An instance in a schema (a default, an enum's values): its strings masked, its numbers read as
   * text (number), its structure kept.
   */
  private instance(v: unknown, path: string): unknown {
    if (typeof v === 'string') return this.text(v, path);
    if (typeof v === 'number' || isRawJsonNumber(v)) return this.number(v, path, '');
    if (Array.isArray(v)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) out = putItem(out, v, i, this.instance(v[i], `${path}[${i}]`));
      return out ?? v;
    }
    if (isRecord(v)) {
      let out: Record<string, unknown> | undefined;
      for (const k of Object.keys(v)) out = put(out, v, k, this.instance(v[k], join(path, k)));
      return out ?? v;
    }
    return v;
  }
}

/**
 * `b`'s copy so far (`out`, undefined while nothing changed) after member `k` became `v`: copied
 * from `b` at the first change, so that a part of a body with nothing to mask is neither copied
 * nor compared afterwards (the walk of a resent request is mostly such parts).
 */
function put(out: Record<string, unknown> | undefined, b: Record<string, unknown>, k: string, v: unknown): Record<string, unknown> | undefined {
  if (out === undefined) {
    if (v === b[k]) return undefined;
    out = { ...b };
  }
  setMember(out, k, v);
  return out;
}

/**
 * Sets member `k` of a copy as its own member, whatever its name: `out[k] = v` on a member named
 * "__proto__" that the object does not have yet would set its prototype (and drop the member).
 */
function setMember(out: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(out, k, { value: v, writable: true, enumerable: true, configurable: true });
  else out[k] = v;
}

/** The same for an array's item `i`. */
function putItem(out: unknown[] | undefined, a: readonly unknown[], i: number, v: unknown): unknown[] | undefined {
  if (out === undefined) {
    if (v === a[i]) return undefined;
    out = a.slice();
  }
  out[i] = v;
  return out;
}

/**
 * `original` when `copy` (made from it member by member, or item by item) holds the very same
 * values — nothing was masked in it — else `copy`: unchanged parts keep their identity, and the
 * wire's copy of a body with nothing to mask shares all of it.
 */
function sameOr<T extends object>(original: T, copy: T): T {
  if (Array.isArray(original)) {
    const a = copy as unknown[];
    for (let i = 0; i < a.length; i++) if (a[i] !== original[i]) return copy;
    return original;
  }
  const o = original as Record<string, unknown>;
  const c = copy as Record<string, unknown>;
  for (const k in c) if (c[k] !== o[k]) return copy;
  return original;
}

/**
 * A request body with its text masked: a Messages request (system, messages, tools), a Message
 * Batch (each of its requests' params, as a Messages request) or a legacy Text Completions request
 * (prompt). Finding paths name where each value was (`requests[2].params.messages[0].content`).
 * Not forRecord, the result says whether the record's walk would differ (recordDiffers). `clean`:
 * the masker's store of resent parts found clean before (CleanParts; one a masker, index.ts), so a
 * tools array resent with every request of a session is compared, not walked again.
 */
export function maskRequestBody(body: unknown, mask: TextMasker, opts: WalkOptions, clean?: CleanParts): BodyMaskResult {
  if (!isRecord(body)) return { body, findings: [] };
  const w = new Walker(mask, opts, true, clean);
  const out = maskParams(body, w, '');
  if (Array.isArray(body.requests)) {
    out.requests = body.requests.map((r, i) => {
      if (!isRecord(r) || !isRecord(r.params)) return r;
      const masked: Record<string, unknown> = { ...r, params: maskParams(r.params, w, `requests[${i}].params`) };
      w.others(r, masked, PARAMS_IN_BATCH, `requests[${i}]`); // custom_id
      return masked;
    });
  }
  const recordDiffers = !w.forRecord && (w.recordDiffers || w.media > 0);
  return { body: out, findings: w.findings, ...(w.media > 0 ? { media: w.media } : {}), ...(recordDiffers ? { recordDiffers } : {}) };
}

const PARAMS_IN_BATCH = new Set(['params']);

function maskParams(body: Record<string, unknown>, w: Walker, at: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body };
  if ('system' in body) out.system = w.content(body.system, join(at, 'system'));
  if (Array.isArray(body.messages)) out.messages = body.messages.map((m, i) => w.message(m, `${join(at, 'messages')}[${i}]`));
  if (typeof body.prompt === 'string') out.prompt = w.text(body.prompt, join(at, 'prompt'));
  if ('output_format' in body) out.output_format = w.outputFormat(body.output_format, join(at, 'output_format'));
  if ('output_config' in body) out.output_config = w.outputConfig(body.output_config, join(at, 'output_config'));
  const tools = body.tools;
  if (Array.isArray(tools)) {
    // Resent with every request of a session; the tools' names tell one set from another.
    let key = 'tools';
    for (const t of tools) key += `\u0000${isRecord(t) && typeof t.name === 'string' ? t.name : ''}`;
    out.tools = w.resent(key, tools, () => w.tools(tools, join(at, 'tools')));
  }
  // The rest goes to the API as sent — metadata.user_id (an id the skill chose for its end user;
  // some put an email there), stop_sequences, MCP servers' URLs, tool_choice — and is masked in the record.
  w.others(body, out, PARAMS_READ, at);
  return out;
}

export function maskResponseBody(body: unknown, mask: TextMasker, opts: WalkOptions): BodyMaskResult {
  if (!isRecord(body)) return { body, findings: [] };
  const w = new Walker(mask, opts);
  const out: Record<string, unknown> = { ...body };
  if (Array.isArray(body.content)) out.content = body.content.map((b, i) => w.block(b, `content[${i}]`));
  w.others(body, out, RESPONSE_READ, ''); // the record's copy: stop_sequence, container...
  return { body: out, findings: w.findings };
}

/**
 * A JSON answer, whatever the route. A Messages body is masked by its structure (maskResponseBody: ids,
 * signatures and media untouched); an error goes as sent to the skill (its retry logic reads the
 * wording) and masked in the record; anything else — file and skill metadata, batch objects, model
 * lists, a legacy completion, any other /v1 answer — has every string value masked, keys kept.
 */
export function maskAnswerBody(body: unknown, mask: TextMasker, opts: WalkOptions): BodyMaskResult {
  if (isRecord(body) && body.type === 'message') return maskResponseBody(body, mask, opts);
  if (isRecord(body) && body.type === 'error' && !opts.forRecord) return { body, findings: [] };
  const w = new Walker(mask, opts);
  return { body: w.strings(body, ''), findings: w.findings };
}

/**
 * A streamed content block as the record keeps it when it is a server tool result (such blocks
 * arrive whole in content_block_start); undefined for any other block.
 */
export function maskServerResultBlock(block: Record<string, unknown>, mask: TextMasker): BodyMaskResult | undefined {
  if (typeof block.type !== 'string' || !SERVER_RESULTS.has(block.type)) return undefined;
  const w = new Walker(mask, { thinking: true, forRecord: true });
  return { body: w.block(block, 'content_block'), findings: w.findings };
}
