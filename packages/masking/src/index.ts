// @skillgate/masking — finds personal data and secrets in text, Claude Messages bodies and live
// SSE streams, and masks them (redact, partial, keyed hash, reversible tokenize). Pure: no I/O,
// no logging; findings carry type, offsets and an HMAC fingerprint, never the value.
//
// The sidecar's use:
//   const masker = createMasker(policy.spec.masking, { key: installationKey });
//   masker.maskText(text)                  -> { masked, findings }
//   masker.maskMessagesRequest(body)       -> { body, findings }   (body: parsed JSON, not mutated)
//   masker.maskMessagesResponse(body)      -> { body, findings }
//   const sm = masker.createStreamMasker() ; for each SseParser event: for (const o of sm.push(ev)) write(o.raw)
//                                            at upstream end: sm.end(); findings in sm.findings
//   tokenize mode: mask the request (fills masker.vault), then masker.createStreamRestorer() /
//   masker.restoreText() on the response so the skill sees its values again.
//   masker.fingerprint(value)              -> the HMAC an investigator computes to search records
// Invariant (property-tested): for every chunking, what a stream masker emits equals maskText of
// the whole text, block by block.
import type { MaskingSpec } from '@skillgate/api';
import { parseJson, type SseEvent } from '@skillgate/wire';
import { MaskerCore, type MaskerOptions, type MaskResult } from './masker.js';
import { maskAnswerBody, maskRequestBody, maskResponseBody, maskServerResultBlock, type BodyMaskResult } from './messages.js';
import { JsonTextStream, TextStream } from './stream-text.js';
import { SseRewriter, type BlockPolicy, type StreamOutput } from './stream.js';
import { RecordStreamMasker } from './stream-record.js';
import { RestoreStream, restoreText } from './restore.js';
import type { Vault } from './actions.js';
import type { Finding } from './entities.js';
import { DEFAULT_TEXT_MEMO, TextMemo } from './memo.js';
import { CleanParts } from './clean-parts.js';

export type { Finding, Detection } from './entities.js';
export { ENTITY_TYPES, SECRET_SUBTYPES } from './entities.js';
export { Vault, MaskingKey, PLACEHOLDER_RE } from './actions.js';
export { validateCustomEntity, type CustomEntityProblem } from './detectors/custom.js';
export { phraseDictionaryReady } from './detectors/phrase.js';
export type { MaskResult, MaskerOptions } from './masker.js';
export type { BodyMaskResult } from './messages.js';
export type { StreamOutput } from './stream.js';

export interface StreamMasker {
  /** Feed one parsed SSE event; forward the returned outputs' `.raw` bytes in order. */
  push(ev: SseEvent): StreamOutput[];
  /** The upstream ended: outputs for whatever is still held (no-op after message_stop). */
  end(): StreamOutput[];
  /** Findings so far, per block (path `content[i]`), offsets into that block's text. */
  readonly findings: Finding[];
  /** The input event an output was made from (itself when it passed unchanged), where known. */
  sourceOf?(out: StreamOutput): SseEvent;
}

/** A growing text masked as it grows (TextStream). Findings' offsets are into the whole text. */
export interface TextMasker {
  push(text: string): string;
  end(): string;
  /** The findings made since the last call (a text of any length keeps none of them itself). */
  takeFindings(): Finding[];
}

export interface Masker {
  /** Placeholder → value map that tokenize mode fills; used by restoreText / createStreamRestorer. */
  readonly vault: Vault;
  maskText(text: string): MaskResult;
  /**
   * A Messages request or response with its text masked (messages.ts): where people put text, the
   * tools' descriptions and schema text, tool inputs with their member names as context (their
   * numbers and names too). `forRecord`: also thinking, server tool results (a fetched page, code
   * execution output, search result titles) and every other string but structural members
   * (metadata.user_id, stop_sequences, MCP server URLs…) — for the record only: the API may not take
   * back a server result or a thinking block that was changed. A request masked not forRecord says
   * in `recordDiffers` whether the forRecord copy would differ.
   */
  maskMessagesRequest(body: unknown, opts?: { forRecord?: boolean }): BodyMaskResult;
  maskMessagesResponse(body: unknown, opts?: { forRecord?: boolean }): BodyMaskResult;
  /**
   * A JSON answer of any route: a Messages body as maskMessagesResponse masks it, an error as sent
   * (masked `forRecord`), anything else (file and skill metadata, batch objects, a legacy
   * completion) with every string value masked, keys kept.
   */
  maskAnswer(body: unknown, opts?: { forRecord?: boolean }): BodyMaskResult;
  /**
   * An answer's text as it came: JSON masked as maskAnswer masks it, anything else as text. When
   * nothing is found, `masked` is the text itself (the bytes as sent, not re-serialised).
   */
  maskAnswerText(text: string, opts?: { forRecord?: boolean }): MaskResult;
  /**
   * One long text that arrives in pieces (an uploaded text file): each push returns what can be
   * released, and everything released equals masking the whole text at once.
   */
  createTextMasker(): TextMasker;
  /** Masks text, thinking (only when spec.thinking) and tool input deltas of a response stream. */
  createStreamMasker(): StreamMasker;
  /**
   * The same masking for a copy nobody waits for (the record): a block's events come out at its
   * stop, as they came when nothing was found, else exactly as createStreamMasker's would — with
   * thinking masked whatever spec.thinking says (no signature matters in the record).
   */
  createRecordStreamMasker(): StreamMasker;
  /** Tokenize mode: placeholders known to the vault back to their values. */
  restoreText(text: string): string;
  /** Restores placeholders in a response body's text and tool inputs. */
  restoreMessagesResponse(body: unknown): unknown;
  createStreamRestorer(): StreamMasker;
  /** HMAC-SHA256(installation key, value), hex: what findings carry. */
  fingerprint(value: string): string;
  /** Hits and misses of the resent-text memo (undefined when the masker does not memoise). */
  memoStats(): { hits: number; misses: number } | undefined;
}

/** Build a masker for a policy's masking spec (undefined: all built-in entities, redact). Throws on an invalid custom entity. */
export function createMasker(spec: MaskingSpec | undefined, opts: MaskerOptions): Masker {
  const core = new MaskerCore(spec, opts);
  const thinking = core.spec.thinking === true;
  // Resent conversation history is masked once (see memo.ts); tokenizing maskers fill their vault
  // on every call, so they never memoise. Responses are new text by nature: they are masked afresh
  // and never fill the memo (a resent assistant turn is memoised when it comes back as history).
  // A value inside JSON is masked as it reads after its member's name (json-values.ts).
  const fresh = (t: string, context?: string): MaskResult => (context ? core.maskInContext(context, t) : core.maskText(t));
  const memo = opts.memo === false || core.tokenizes() ? undefined : new TextMemo(fresh, opts.memo ?? DEFAULT_TEXT_MEMO);
  const mask = memo ? (t: string, context?: string) => memo.maskText(t, context) : fresh;
  // Resent tools and tool inputs found clean are compared, not walked (clean-parts.ts), by the
  // maskers that memoise: those that live across requests (a policy's), not a request's own.
  const clean = memo ? new CleanParts() : undefined;
  const maskingBlocks: BlockPolicy = {
    text: () => new TextStream(core),
    thinking: () => (thinking ? new TextStream(core) : undefined),
    json: () => new JsonTextStream(core),
  };
  // The record masks thinking whatever the policy says: nothing sends the record back to Claude,
  // so a thinking block's signature does not matter there.
  const recordBlocks: BlockPolicy = { ...maskingBlocks, thinking: () => new TextStream(core) };
  const maskAnswerText = (text: string, o?: { forRecord?: boolean }): MaskResult => {
    let parsed: unknown;
    try {
      parsed = parseJson(text);
    } catch {
      return core.maskText(text); // labelled JSON, or a stream's data, that is not: masked as text
    }
    const r = maskAnswerBody(parsed, fresh, { thinking, forRecord: o?.forRecord });
    return r.findings.length === 0 ? { masked: text, findings: [] } : { masked: JSON.stringify(r.body), findings: r.findings };
  };
  return {
    memoStats: () => (memo ? { hits: memo.hits, misses: memo.misses } : undefined),
    vault: core.vault,
    maskText: (t) => mask(t),
    maskMessagesRequest: (body, o) => maskRequestBody(body, mask, { thinking, forRecord: o?.forRecord }, clean),
    maskMessagesResponse: (body, o) => maskResponseBody(body, fresh, { thinking, forRecord: o?.forRecord }),
    maskAnswer: (body, o) => maskAnswerBody(body, fresh, { thinking, forRecord: o?.forRecord }),
    maskAnswerText,
    createTextMasker: () => new TextStream(core),
    createStreamMasker: () => new SseRewriter(maskingBlocks),
    createRecordStreamMasker: () => new RecordStreamMasker(recordBlocks, undefined, (block) => maskServerResultBlock(block, fresh),
      (data) => maskAnswerText(data, { forRecord: true })),
    restoreText: (t) => restoreText(t, core.vault),
    restoreMessagesResponse: (body) => maskResponseBody(body, (t) => ({ masked: restoreText(t, core.vault), findings: [] }), { thinking: false }).body,
    createStreamRestorer: () => new SseRewriter({
      text: () => new RestoreStream(core.vault),
      thinking: () => undefined,
      json: () => new RestoreStream(core.vault, true),
    }),
    fingerprint: (v) => core.key.fingerprint(v),
  };
}

/** Lower-level pieces, for tests, benchmarks and tools. */
export { MaskerCore, TextStream, JsonTextStream, SseRewriter, RecordStreamMasker, RestoreStream };
