// Structure-aware masking of Claude Messages bodies: walks the places people put text (system,
// messages[].content, text/document/tool_result blocks, the strings inside tool_use inputs, and
// thinking only when the policy says so) and leaves everything else alone: ids, signatures, model
// and tool names, base64 media, cache_control, encrypted search results (the record's copy has its
// base64 media by digest only). Server tool results (a
// fetched page, code execution output, search result titles) and a request's metadata.user_id are
// masked only on request — for the record: the API may not take back a server result it made that
// was changed, as with a signed thinking block. Never mutates its input.
import { createHash } from 'node:crypto';
import type { Finding } from './entities.js';
import type { MaskResult } from './masker.js';

export interface BodyMaskResult {
  body: unknown;
  findings: Finding[];
  /** Base64 media (images, PDFs) the body carries; the record's copy has each by digest (Walker.digestOnly). */
  media?: number;
}

/** How much base64 text is decoded at a time to hash a blob left out of the record (a multiple of 4). */
const HASH_SLICE = 4 * 1024 * 1024;

type TextMasker = (text: string) => MaskResult;

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** What a walk masks besides the text people put in a body. */
export interface WalkOptions {
  /** Thinking blocks (the policy's `thinking`). */
  thinking: boolean;
  /**
   * The record's copy: also server tool results (web fetch pages, code execution stdout/stderr and
   * files, search result titles) and a request's metadata.user_id, which the API keeps as sent.
   */
  forRecord?: boolean;
}

/** The block types that carry a server tool's result. */
const SERVER_RESULTS = new Set(['web_fetch_tool_result', 'web_search_tool_result', 'code_execution_tool_result',
  'bash_code_execution_tool_result', 'text_editor_code_execution_tool_result']);

/**
 * Whether a body's text names a server tool result block: the record's masked copy of such a body
 * differs from a rewriting mode's (which keeps server results as Claude made them).
 */
export function namesServerResult(body: Buffer): boolean {
  for (const type of SERVER_RESULTS) if (body.includes(`"${type}"`)) return true;
  return false;
}

class Walker {
  readonly findings: Finding[] = [];
  media = 0;
  private readonly thinking: boolean;
  readonly forRecord: boolean;
  constructor(private readonly mask: TextMasker, opts: WalkOptions) {
    this.thinking = opts.thinking;
    this.forRecord = opts.forRecord === true;
  }

  text(s: string, path: string): string {
    const r = this.mask(s);
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

  /** Strings inside a tool input (values only: keys are the tool's schema). */
  value(v: unknown, path: string): unknown {
    if (typeof v === 'string') return this.text(v, path);
    if (Array.isArray(v)) return v.map((x, i) => this.value(x, `${path}[${i}]`));
    if (isRecord(v)) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = this.value(x, path ? `${path}.${k}` : k);
      return out;
    }
    return v;
  }

  content(c: unknown, path: string): unknown {
    if (typeof c === 'string') return this.text(c, path);
    if (Array.isArray(c)) return c.map((b, i) => this.block(b, `${path}[${i}]`));
    return c;
  }

  block(b: unknown, path: string): unknown {
    if (!isRecord(b)) return b;
    const out: Record<string, unknown> = { ...b };
    if (typeof b.type === 'string' && SERVER_RESULTS.has(b.type)) {
      if (!this.forRecord) return b;
      if ('content' in b) out.content = this.serverResult(b.content, `${path}.content`);
      return out;
    }
    switch (b.type) {
      case 'text':
        if (typeof b.text === 'string') out.text = this.text(b.text, `${path}.text`);
        if (Array.isArray(b.citations)) out.citations = b.citations.map((c, i) => this.citation(c, `${path}.citations[${i}]`));
        break;
      case 'tool_use': case 'server_tool_use': case 'mcp_tool_use':
        if ('input' in b) out.input = this.value(b.input, `${path}.input`);
        break;
      case 'tool_result': case 'mcp_tool_result':
        if ('content' in b) out.content = this.content(b.content, `${path}.content`);
        break;
      case 'image':
        if (!isRecord(b.source) || b.source.type !== 'base64') return b;
        this.media++;
        if (!this.forRecord) return b;
        out.source = this.digestOnly(b.source);
        break;
      case 'document': {
        const src = b.source;
        if (isRecord(src)) {
          if (src.type === 'text' && typeof src.data === 'string') out.source = { ...src, data: this.text(src.data, `${path}.source.data`) };
          else if (src.type === 'base64') {
            this.media++;
            if (this.forRecord) out.source = this.digestOnly(src);
          }
          else if (src.type === 'content') out.source = { ...src, content: this.content(src.content, `${path}.source.content`) };
        }
        if (typeof b.context === 'string') out.context = this.text(b.context, `${path}.context`);
        if (typeof b.title === 'string') out.title = this.text(b.title, `${path}.title`);
        break;
      }
      case 'search_result':
        if ('content' in b) out.content = this.content(b.content, `${path}.content`);
        if (typeof b.title === 'string') out.title = this.text(b.title, `${path}.title`);
        if (typeof b.source === 'string') out.source = this.text(b.source, `${path}.source`);
        break;
      case 'thinking':
        if (this.thinking && typeof b.thinking === 'string') out.thinking = this.text(b.thinking, `${path}.thinking`);
        break;
      default:
        // redacted_thinking, server tool results (encrypted), container uploads, media by URL or file id...: untouched
        return b;
    }
    return out;
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
      return out;
    }
    for (const k of ['title', 'stdout', 'stderr', 'content']) {
      const v = c[k];
      if (typeof v === 'string') out[k] = this.text(v, `${path}.${k}`);
    }
    return out;
  }

  citation(c: unknown, path: string): unknown {
    if (!isRecord(c) || typeof c.cited_text !== 'string') return c;
    return { ...c, cited_text: this.text(c.cited_text, `${path}.cited_text`) };
  }
}

/**
 * A request body with its text masked: a Messages request (system, messages), a Message Batch
 * (each of its requests' params, as a Messages request) or a legacy Text Completions request
 * (prompt). Finding paths name where each value was (`requests[2].params.messages[0].content`).
 */
export function maskRequestBody(body: unknown, mask: TextMasker, opts: WalkOptions): BodyMaskResult {
  if (!isRecord(body)) return { body, findings: [] };
  const w = new Walker(mask, opts);
  const out = maskParams(body, w, '');
  if (Array.isArray(body.requests)) {
    out.requests = body.requests.map((r, i) => (isRecord(r) && isRecord(r.params)
      ? { ...r, params: maskParams(r.params, w, `requests[${i}].params.`) }
      : r));
  }
  return { body: out, findings: w.findings, ...(w.media > 0 ? { media: w.media } : {}) };
}

function maskParams(body: Record<string, unknown>, w: Walker, at: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body };
  if ('system' in body) out.system = w.content(body.system, `${at}system`);
  if (Array.isArray(body.messages)) {
    out.messages = body.messages.map((m, i) => {
      if (!isRecord(m)) return m;
      return 'content' in m ? { ...m, content: w.content(m.content, `${at}messages[${i}].content`) } : m;
    });
  }
  if (typeof body.prompt === 'string') out.prompt = w.text(body.prompt, `${at}prompt`);
  // An id the skill chose for its end user; some put an email there. Forwarded as sent.
  if (w.forRecord && isRecord(body.metadata) && typeof body.metadata.user_id === 'string') {
    out.metadata = { ...body.metadata, user_id: w.text(body.metadata.user_id, `${at}metadata.user_id`) };
  }
  return out;
}

export function maskResponseBody(body: unknown, mask: TextMasker, opts: WalkOptions): BodyMaskResult {
  if (!isRecord(body)) return { body, findings: [] };
  const w = new Walker(mask, opts);
  const out: Record<string, unknown> = { ...body };
  if (Array.isArray(body.content)) out.content = body.content.map((b, i) => w.block(b, `content[${i}]`));
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
  return { body: w.value(body, ''), findings: w.findings };
}

/**
 * A streamed content block as the record keeps it when it is a server tool result (such blocks
 * arrive whole in content_block_start); undefined for any other block.
 */
export function maskServerResultBlock(block: Record<string, unknown>, mask: TextMasker): BodyMaskResult | undefined {
  if (typeof block.type !== 'string' || !SERVER_RESULTS.has(block.type)) return undefined;
  const w = new Walker(mask, { thinking: false, forRecord: true });
  return { body: w.block(block, 'content_block'), findings: w.findings };
}
