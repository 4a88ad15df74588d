// `skillgate sessions list|show|replay|find|verify|export`: the responder's forensics over the
// session record (local store or Redis). Read-only: these commands never write to the record.
// They print masked payloads only, and `find` never prints or stores the value it looks for.
import { accessSync, constants, readFileSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { DEV_MASKING_KEY } from '@skillgate/api';
import {
  againstStoredHead, assertSessionId, buildBundle, conversationOf, findFingerprint, fingerprintOf, loadSigner, unlistedSessions, verifyRecord, verifySession,
  type BundleProblem, type SessionVerdict, type VerifyReport, type Checkpoint, type ReplayStep, type SessionEvent, type SessionReader,
} from '@skillgate/record';
// The fold alone: the masking package's index loads its detectors and dictionaries.
import { readAsDetected, searchForms } from '@skillgate/masking/fold';
// The phone parser alone, for a number's other written forms (with or without its country code).
import { phoneSearchForms } from '@skillgate/masking/detectors/phone';
import { CliError, outputOption, printData, printable, type Command } from '../command.js';
import { controllerTrust, describeEndorsed, pinnedKeys, trustHelp, trustOptions, trustPinned, trustUsage, type ControllerTrust } from './record-trust.js';
import { filterFrom, filterOptions, filterUsage, openArchive, progress, storeHelp, storeOptions, storeUsage, str, withStore } from './sessions-store.js';
import { KEY_FILE_HOWTO, installationKey } from './masking-key.js';

type Values = Record<string, string | boolean | string[] | undefined>;

function sessionArg(positionals: string[], usage: string): string {
  const id = positionals[0];
  if (!id) throw new CliError(`missing session id. Usage: skillgate ${usage}`, 2);
  checkSessionIds([id]);
  return id;
}

/** Session ids as the record names them (a path, a typo with a space) are a usage error, said before any store is read. */
function checkSessionIds(ids: readonly string[]): void {
  for (const id of ids) {
    try {
      assertSessionId(id);
    } catch (err) {
      throw new CliError(`${(err as Error).message} (letters, digits and _ . : -, as 'skillgate sessions list' shows them)`, 2);
    }
  }
}

async function readExisting(store: SessionReader, id: string): Promise<SessionEvent[]> {
  let events: SessionEvent[];
  try {
    events = await store.readSession(id);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  if (events.length === 0) throw new CliError(`session ${id} not found in ${store.location}`);
  await warnDamage(store, id, events);
  return events;
}

/**
 * Say when the store could not give all of a session's events, or not as recorded (a line that does
 * not parse, one deleted from the middle or cut from the end, lines moved, an event changed):
 * showing or replaying the rest without a word would pass it off as the whole session. The chain's
 * own check and the store's head; 'sessions verify' also holds it against signed checkpoints.
 */
async function warnDamage(store: SessionReader, id: string, events: readonly SessionEvent[]): Promise<void> {
  const trimmed = (await store.trimmed?.(id)) ?? 0;
  const head = store.head ? await store.head(id) : undefined;
  const problem = verifySession(id, events, [], trimmed) ?? (head ? againstStoredHead(id, events, new Map([[id, head]]), trimmed) : undefined);
  if (!problem) return;
  const verify = `'skillgate sessions verify ${id}' says more`;
  if (problem.kind !== 'missing') {
    process.stderr.write(`skillgate: session ${id} is damaged (${problem.kind}): ${printable(problem.message)}; what follows may not be as recorded; ${verify}\n`);
    return;
  }
  // Every hole, not only the first: from the first seq kept to the last the events or the store's head name.
  const present = new Set<number>();
  let highest = -1;
  for (const e of events) {
    present.add(e.seq);
    if (e.seq > highest) highest = e.seq;
  }
  const last = Math.max(highest, head?.seq ?? -1);
  const missing: number[] = [];
  for (let seq = trimmed; seq <= last && missing.length < 20; seq++) if (!present.has(seq)) missing.push(seq);
  const cut = last > highest ? ` (cut from the end: the store's head says the chain runs to #${last})` : '';
  process.stderr.write(`skillgate: session ${id} lacks event(s) #${missing.join(', #')}${missing.length === 20 ? ' and maybe more' : ''} (unreadable or deleted)${cut}: what follows is not all of it; ${verify}\n`);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

export const sessionsListCommand: Command = {
  name: ['sessions', 'list'],
  summary: 'List recorded sessions (filter by skill, owner, namespace, time)',
  usage: `sessions list ${filterUsage} ${storeUsage} [--output json]`,
  help: `Times: ISO-8601 with a zone (2026-01-02T15:04:05Z, 2026-01-02T16:04:05+01:00), a UTC day
(2026-01-02: its start), or a duration back from now (30m, 12h, 7d).\n\n${storeHelp}`,
  options: { ...storeOptions, ...filterOptions, ...outputOption },
  async run({ values }) {
    const filter = filterFrom(values);
    const sessions = await withStore(values, async (store) => {
      await warnUnlisted(store, 'list');
      return store.listSessions(filter);
    });
    printData(values, sessions, () => sessions.length === 0 ? 'no sessions' : table([
      ['SESSION', 'SKILL', 'OWNER', 'NAMESPACE', 'POD', 'EVENTS', 'FIRST', 'LAST', 'CLOSED'],
      ...sessions.map((s) => [s.sessionId, s.identity.skill, s.identity.owner, s.identity.namespace, s.identity.pod, String(s.events), s.firstTs, s.lastTs, s.closed ? 'yes' : 'no']),
    ]));
    return 0;
  },
};

/** One event as a line of the timeline (`sessions show`). */
export function describeEvent(e: SessionEvent): string {
  const findings = (e.data as { findings?: Array<{ type: string }> }).findings;
  const f = findings?.length ? `  findings: ${[...new Set(findings.map((x) => x.type))].join(',')} (${findings.length})` : '';
  switch (e.kind) {
    case 'request': return `${e.data.method} ${e.data.path}${e.data.model ? ` model=${e.data.model}` : ''}${e.data.stream ? ' stream' : ''} ${e.data.bodyBytes} bytes ${e.data.bodySha256 ? `sha256=${e.data.bodySha256.slice(0, 12)}` : 'streamed (digest with the response)'}${f}`;
    case 'decision': return `${e.data.action}${e.data.policies?.length ? ` by ${e.data.policies.join(',')}` : ''}${e.data.rule ? ` rule ${e.data.rule}` : ''}${e.data.reason ? `: ${e.data.reason}` : ''}`;
    case 'approval': return `${e.data.approval} ${e.data.state}${e.data.by ? ` by ${e.data.by}` : ''}${e.data.reason ? `: ${e.data.reason}` : ''}`;
    case 'response': return `${e.data.status}${e.data.stream ? ' stream' : ''}${e.data.bodyBytes !== undefined ? ` ${e.data.bodyBytes} bytes` : ''}${f}${e.data.upload ? describeUpload(e.data.upload) : ''}`;
    case 'stream_event': return `${e.data.events.length} SSE events (${[...new Set(e.data.events.map((x) => x.event))].join(',')}) +${e.data.events[0]?.t ?? 0}..${e.data.events.at(-1)?.t ?? 0} ms${f}`;
    case 'stream_end': return `${e.data.outcome}${e.data.reason ? `: ${e.data.reason}` : ''}${e.data.events !== undefined ? ` after ${e.data.events} events` : ''}`;
    case 'egress': return `${e.data.method} ${e.data.destination} ${e.data.allowed ? 'allowed' : 'DENIED'}${e.data.reason ? `: ${e.data.reason}` : ''}`;
    case 'lock': return `${e.data.target}${e.data.reason ? `: ${e.data.reason}` : ''}`;
    case 'revocation': return `${e.data.token ?? ''}${e.data.reason ? `: ${e.data.reason}` : ''}`;
    case 'refusal': return `${e.data.path !== undefined ? `${e.data.method ?? ''} ${e.data.path} ` : ''}${e.data.status} ${e.data.code}: ${e.data.message}`;
    case 'session_close': return `${e.data.reason} after ${e.data.events} events, head ${e.data.head.slice(0, 12)}`;
    default: return '';
  }
}

/** What an answered upload sent: its size and digest, the values found in its text files, what was not read. */
function describeUpload(u: NonNullable<Extract<SessionEvent, { kind: 'response' }>['data']['upload']>): string {
  const types = [...new Set((u.findings ?? []).map((x) => x.type))];
  const found = u.found ? `  upload findings: ${types.join(',')} (${u.found} in all, ${u.findings?.length ?? 0} distinct)` : '';
  return `  upload ${u.bytes} bytes sha256=${u.sha256.slice(0, 12)}${found}${u.unread ? `  unread: ${u.unread}` : ''}`;
}

export const sessionsShowCommand: Command = {
  name: ['sessions', 'show'],
  args: 1,
  summary: 'Show a session as a timeline of its events',
  usage: `sessions show SESSION_ID ${storeUsage} [--output json]`,
  help: `Events the store kept aside outside the session's chain after a chain conflict follow the
timeline, marked as such (--output json prints the chain's events; 'sessions verify --output json'
summarises the kept-aside ones).\n\n${storeHelp}`,
  options: { ...storeOptions, ...outputOption },
  async run({ values, positionals }) {
    const id = sessionArg(positionals, this.usage);
    const { events, aside } = await withStore(values, async (store) => ({
      events: await readExisting(store, id),
      aside: store.keptAside ? (await store.keptAside()).filter((k) => k.event?.sessionId === id) : [],
    }));
    const t0 = Date.parse(events[0]!.ts);
    const first = events[0]!.identity;
    const line = (e: SessionEvent) => `+${((Date.parse(e.ts) - t0) / 1000).toFixed(3).padStart(9)}s  #${String(e.seq).padEnd(4)} ${e.kind.padEnd(13)} ${(e.requestId ?? '').padEnd(28)} ${describeEvent(e)}`;
    printData(values, events, () => [
      `session ${id}  skill ${first.skill}  owner ${first.owner}  namespace ${first.namespace}  pod ${first.pod}  started ${events[0]!.ts}`,
      ...events.map(line),
      ...(aside.length ? [`kept aside outside the chain (another writer's chain took their place):`, ...aside.map((k) => `${line(k.event)}  [by ${k.writer}, kept ${k.keptAt}]`)] : []),
    ].join('\n'));
    return 0;
  },
};

function renderStep(s: ReplayStep): string {
  switch (s.kind) {
    case 'user': return `\nuser> ${s.text}\n`;
    case 'tool_result': return `\ntool_result ${s.toolUseId}${s.isError ? ' (error)' : ''}> ${s.text}\n`;
    case 'assistant_text': return s.text;
    case 'tool_use': return `\ntool_use ${s.name} ${s.id}> ${JSON.stringify(s.input)}\n`;
    case 'gateway': return `\n[skillgate] ${s.text}\n`;
  }
}

/** Longest pause replay keeps between steps of different requests (ms at --speed 1). */
const MAX_GAP_MS = 5000;

export const sessionsReplayCommand: Command = {
  name: ['sessions', 'replay'],
  args: 1,
  summary: 'Replay a session: user turns, assistant text at its original pace, tool calls and results',
  usage: `sessions replay SESSION_ID [--speed N | --instant] ${storeUsage} [--output json]`,
  help: `Streamed text plays at the pace it was recorded (each SSE event's time), divided by --speed.
Pauses between requests are capped at ${MAX_GAP_MS / 1000} s. --instant prints without waiting.
--output json prints the steps with their times (ms since the session started).\n\n${storeHelp}`,
  options: { ...storeOptions, ...outputOption, speed: { type: 'string' }, instant: { type: 'boolean' } },
  async run({ values, positionals }) {
    const id = sessionArg(positionals, this.usage);
    const speedText = str(values, 'speed');
    if (speedText !== undefined && values.instant) throw new CliError('--speed paces the replay and --instant does not wait at all: give one', 2);
    const speed = speedText === undefined ? 1 : Number(speedText);
    if (!(speed > 0)) throw new CliError(`--speed must be a positive number, got ${speedText}`, 2);
    const steps = conversationOf(await withStore(values, (store) => readExisting(store, id)));
    if (values.output === 'json') {
      printData(values, steps, () => '');
      return 0;
    }
    let clock = 0;
    let prevRequest: string | undefined;
    for (const step of steps) {
      if (!values.instant) {
        let wait = step.at - clock;
        if (step.requestId !== prevRequest) wait = Math.min(wait, MAX_GAP_MS);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait / speed));
      }
      clock = step.at;
      prevRequest = step.requestId;
      process.stdout.write(printable(renderStep(step)));
    }
    process.stdout.write('\n');
    return 0;
  },
};

function findKey(values: Values, env: NodeJS.ProcessEnv = process.env): string {
  const key = installationKey(str(values, 'key-file'), env);
  if (key !== undefined) return key.key;
  // The record openStoreFrom opens: Redis and an archive come from a cluster, whose key is needed.
  const local = str(values, 'archive') === undefined && (str(values, 'dir') !== undefined || (str(values, 'redis') ?? env.REDIS_URL) === undefined);
  if (!local) {
    throw new CliError(`find needs the installation key: set SKILLGATE_MASKING_KEY_FILE (${KEY_FILE_HOWTO}) or pass --key-file F`);
  }
  // A local record: what `skillgate dev` masks with when no key is set.
  process.stderr.write('skillgate sessions find: no installation key set; using the development key of `skillgate dev` (a record made with another key will show no match)\n');
  return DEV_MASKING_KEY;
}

export const sessionsFindCommand: Command = {
  name: ['sessions', 'find'],
  summary: 'Find the requests and responses that contained a value (by its HMAC fingerprint)',
  usage: `sessions find --value V | --value - | --fingerprint HEX [--key-file F] ${filterUsage} ${storeUsage} [--output json]`,
  help: `Computes HMAC-SHA256(installation key, value) and lists every event whose masking findings carry
that fingerprint: 'request' means the skill sent the value (in a message, or in a text file it
uploaded), 'response' means Claude returned it. It finds only values masking detected (an email
address, a card, a key...), never other text: to read what a session said, 'sessions show ID
--output json' or 'sessions replay ID'.
The value is read as masking reads it: full-width forms (４１１１, ＠), the digits of other scripts
(٤١١١), mathematical bold and italics (𝐣𝐚𝐧𝐞), no-break spaces and Unicode hyphens count as their
ASCII, zero-width characters, soft hyphens and direction marks as nothing, so either spelling finds
both; a card, an SSN, a phone number or an IBAN is found however it was grouped (4111111111111111
finds "4111 1111 1111 1111"), a phone number also with its country code or without it (+1 415 555
0132 finds "(415) 555-0132" and the reverse; national numbers read as US ones), an email address in
any case. The value is never stored or printed.
--value - reads it from stdin (keeps it out of shell history). Whitespace around the value (a space
pasted with it, stdin's newline) is trimmed; an empty value is refused.
Key: --key-file F, SKILLGATE_MASKING_KEY_FILE or SKILLGATE_MASKING_KEY: the installation key the
sidecars masked with (in a cluster the controller keeps it in the Secret skillgate-masking-key of its
namespace; a local record of 'skillgate dev' without one: its development key, the default here).
Filters: --skill --owner --namespace --since --until, as for 'sessions list'.\n\n${storeHelp}`,
  options: { ...storeOptions, ...filterOptions, ...outputOption, value: { type: 'string' }, fingerprint: { type: 'string' }, 'key-file': { type: 'string' } },
  async run({ values }) {
    if (str(values, 'fingerprint') !== undefined && str(values, 'value') !== undefined) throw new CliError('--value and --fingerprint each name what to find: give one', 2);
    const filter = filterFrom(values);
    const given = str(values, 'fingerprint')?.toLowerCase();
    if (given !== undefined && !/^[0-9a-f]{64}$/.test(given)) {
      throw new CliError(`--fingerprint takes the 64 hex characters a finding records (got ${given.length} characters${/[^0-9a-f]/.test(given) ? ', not all hex' : ''}); or pass --value V`, 2);
    }
    let fingerprints: string[];
    if (given) fingerprints = [given];
    else {
      const raw = str(values, 'value');
      if (raw === undefined) throw new CliError('pass --value V (or --value - to read stdin) or --fingerprint HEX', 2);
      // Masking never takes the whitespace around a value into a finding.
      const value = (raw === '-' ? readFileSync(0, 'utf8') : raw).trim();
      if (value === '') throw new CliError(`${raw === '-' ? 'stdin is' : '--value is'} empty (or only whitespace): give the value to find`, 2);
      // Each form masking may have fingerprinted it in (fold.ts): as detection reads it (full-width
      // forms as ASCII, zero-width characters as nothing), without separators, in lower case.
      const key = findKey(values);
      fingerprints = [...new Set([...searchForms(value), ...phoneSearchForms(readAsDetected(value))])].map((form) => fingerprintOf(key, form));
    }
    const bar = progress('scanned events');
    const hits = await withStore(values, async (store) => {
      await warnUnlisted(store, 'search');
      return findFingerprint(store, new Set(fingerprints), filter, (n) => bar.update(n));
    });
    bar.done(`${hits.length} event(s) matched`);
    printData(values, { fingerprint: fingerprints[0], fingerprints, hits }, () => hits.length === 0 ? noFindingLine(given !== undefined) : hits.map((h) =>
      `${h.ts}  ${h.sessionId} #${h.seq}  ${h.kind.padEnd(12)} ${(h.requestId ?? '-').padEnd(28)} ${h.direction === 'response' ? 'RETURNED by Claude' : h.direction === 'request' ? 'sent by the skill' : h.kind}  ${h.types.join(',')}  skill ${h.skill} owner ${h.owner}`,
    ).join('\n'));
    return 0;
  },
};

/** Say on stderr when the store holds sessions its listing does not name: `what` (list, search) cannot see them. */
async function warnUnlisted(store: SessionReader, what: string): Promise<void> {
  const hidden = await unlistedSessions(store);
  if (hidden.length === 0) return;
  process.stderr.write(`skillgate: warning: ${store.location} holds ${hidden.length} session(s) its listing does not name (${printable(hidden.slice(0, 5).join(', '))}${hidden.length > 5 ? ', ...' : ''}), which this ${what} cannot see: the listing was altered, or a write stopped half-way; 'skillgate sessions verify --all' checks them\n`);
}

/** What an empty `find` says: no finding, which is not "no event holds that text". */
function noFindingLine(byFingerprint: boolean): string {
  return `no masking finding has that ${byFingerprint ? 'fingerprint' : 'value\'s fingerprint'}: find matches values masking detected (an email address, a card, a key...), not any text; to read what sessions said: skillgate sessions show ID --output json, or sessions replay ID`;
}

export function describeProblem(p: BundleProblem): string {
  return `${p.kind}: ${p.message}`;
}

/** Where a verification took its keys from, which says what an "ok" proves. */
export type KeysFrom = 'controller' | 'pinned' | 'store' | 'bundle';

export function keysLine(from: KeysFrom): string {
  switch (from) {
    case 'controller': return 'keys: endorsed by the controller (--trust-jwks)';
    case 'pinned': return 'keys: pinned with --public-key';
    case 'store':
    case 'bundle': return `keys: the ${from}'s own — this shows the record is consistent with itself, not who wrote it: pass --trust-jwks (the controller's endorsements) or --public-key to tie it to keys you trust`;
  }
}

/** How much of a verified session signed checkpoints cover (events after the last one rest on the chain alone). */
function signedNote(x: SessionVerdict): string {
  const cut = x.trimmed ? `; seq 0${x.trimmed > 1 ? `-${x.trimmed - 1}` : ''} removed by the store's retention` : '';
  return cut + signedShare(x);
}

function signedShare(x: SessionVerdict): string {
  if (x.events === 0) return '';
  if (x.signedThrough === undefined) return '; none under a signed checkpoint yet';
  const last = (x.trimmed ?? 0) + x.events - 1;
  if (x.signedThrough >= last) return ', all under a signed checkpoint';
  return `; seq ${x.signedThrough + 1}${last > x.signedThrough + 1 ? `-${last}` : ''} not yet under a signed checkpoint`;
}

/** A verification's human output: the checkpoints, whose keys, each session. */
export function verdictLines(report: Omit<VerifyReport, 'firstProblem'>, anchor: ControllerTrust | undefined, keysFrom: KeysFrom): string[] {
  return [
    report.checkpoints.problem ? `checkpoints: FAILED ${describeProblem(report.checkpoints.problem)}` : `checkpoints: ok (${report.checkpoints.count})`,
    keysLine(keysFrom),
    ...(anchor ? describeEndorsed(anchor.endorsed) : []),
    ...report.sessions.map((x) => `${x.sessionId}: ${x.ok ? `ok (${x.events} events${signedNote(x)})` : `FAILED ${describeProblem(x.problem!)}`}`),
    ...(report.archiveOnly?.length ? [`in the archive only: ${report.archiveOnly.length} session(s) the store no longer lists (expired by its retention, or deleted): ${report.archiveOnly.slice(0, 20).join(', ')}${report.archiveOnly.length > 20 ? ', …' : ''}`] : []),
    ...(report.keptAside ?? []).map((k) =>
      `${k.sessionId}: ${k.events} event(s) kept aside outside the chain (sealed for seq ${k.seqs[0] === k.seqs[1] ? k.seqs[0] : `${k.seqs[0]}-${k.seqs[1]}`} by ${k.writers.join(', ')}): another writer's chain took their place`),
  ];
}

/** A verification's JSON output: with --trust-jwks, also whom each key was endorsed for. */
export function withEndorsed<R extends Omit<VerifyReport, 'firstProblem'>>(report: R, anchor: ControllerTrust | undefined): R | (R & { endorsed: Record<string, unknown> }) {
  return anchor ? { ...report, endorsed: Object.fromEntries(anchor.endorsed) } : report;
}

export const sessionsVerifyCommand: Command = {
  name: ['sessions', 'verify'],
  args: 'many',
  summary: 'Recompute hash chains and checkpoint signatures; name the first altered, missing or reordered event',
  usage: `sessions verify [SESSION_ID... | --all] [--against-archive DIR] ${trustUsage} ${storeUsage} [--output json]`,
  help: `Exit 0 when every chain and checkpoint verifies, 1 otherwise (also when --all finds no session
at all: an empty record is not an intact one), 3 when it could not check (the store, the archive, a
--public-key file or the JWKS could not be read: nothing is said of the record), 2 for a usage
error. It names an event altered, missing, reordered or duplicated, one whose stored text is not
the canonical text it was sealed as (altered), a chain cut short of the store's own head, a
session the store lists under another identity or time than its events say or does not list at all
(misfiled: with --all every session the store holds is checked, listed or not), and checkpoint
problems; each session's line says how far signed
checkpoints reach into it (events after the last one rest on the chain alone), and events Redis
retention trimmed from the start of a stream are said to be, not failed.
--against-archive DIR holds the store against the recorder's archive (written and fsync'd as events
reach the store, so it may lag the store, never lead it): an event or checkpoint the archive holds
that the store lacks, or holds otherwise, fails — a chain cut back to a signed point with its later
checkpoints deleted verifies from the store alone; sessions only the archive holds are listed (the
store's retention, or a deletion: compare with its retention). Also lists the events the store
keeps aside, outside their session's chain, after a chain conflict (two writers met in a session:
an answer already given that another writer's chain took the place of); they do not fail it.

${trustHelp}\n\n${storeHelp}`,
  options: { ...storeOptions, ...outputOption, ...trustOptions, all: { type: 'boolean' }, 'against-archive': { type: 'string' } },
  async run({ values, positionals }) {
    if (positionals.length === 0 && !values.all) throw new CliError(`name a session or pass --all. Usage: skillgate ${this.usage}`, 2);
    if (positionals.length > 0 && values.all) throw new CliError('name sessions or pass --all, not both', 2);
    checkSessionIds(positionals);
    const againstDir = str(values, 'against-archive');
    if (againstDir !== undefined && str(values, 'archive') !== undefined) throw new CliError('--against-archive holds a store against an archive: give --redis or --dir as the store, not --archive', 2);
    const bar = progress('verified sessions');
    let location = '';
    let pinned: Record<string, string> | undefined;
    let anchor: ControllerTrust | undefined;
    let report: VerifyReport;
    try {
      pinned = pinnedKeys(values);
      anchor = await controllerTrust(values, pinned);
      const against = againstDir === undefined ? undefined : await openArchive(againstDir);
      report = await withStore(values, async (store) => {
        location = store.location;
        return verifyRecord(store, {
          ...(against ? { against } : {}),
          sessionIds: values.all ? undefined : positionals,
          // With the controller as trust anchor, the store's keys are candidates its endorsements decide on.
          publicKeys: anchor ? { ...(await store.publicKeys()), ...pinned } : pinned,
          ...(anchor ? { trust: anchor.trust } : pinned ? { trust: trustPinned } : {}),
          onProgress: (d, t) => bar.update(d, t),
        });
      }).finally(() => against?.close());
    } catch (err) {
      bar.clear();
      throw couldNotCheck(err);
    }
    // An empty record (a wrong --dir or --prefix, a flushed Redis) is not an intact one.
    if (values.all && report.sessions.length === 0 && report.checkpoints.count === 0) {
      throw new CliError(`no sessions in ${location}: nothing verified (check --dir, --redis or --prefix)`);
    }
    if (report.ok) bar.done(`verified ${report.sessions.length} session(s), ${report.checkpoints.count} checkpoint(s)`);
    else bar.clear();
    printData(values, withEndorsed(report, anchor), () => verdictLines(report, anchor, anchor ? 'controller' : pinned ? 'pinned' : 'store').join('\n'));
    if (!report.ok) throw new CliError(`verification failed: ${describeProblem(report.firstProblem!)}`);
    return 0;
  },
};

/**
 * What stopped a verification before it could say anything of the record (a store, archive or JWKS
 * that could not be read): exit 3, so a script tells "could not check" from "altered" (exit 1).
 * Usage errors keep their exit 2.
 */
export function couldNotCheck(err: unknown): Error {
  if (err instanceof CliError && err.exitCode === 2) return err;
  return new CliError(err instanceof Error ? err.message : String(err), 3);
}

export const sessionsExportCommand: Command = {
  name: ['sessions', 'export'],
  args: 'many',
  summary: 'Export an evidence bundle (events, chain, checkpoints, public keys, signed manifest)',
  usage: `sessions export SESSION_ID... | --all ${filterUsage} --out FILE [--signing-key FILE] [--force] ${storeUsage} [--output json]`,
  help: `Writes one JSON file that 'skillgate verify FILE' checks offline. The manifest (digests of every
session, of the checkpoints and of the events the store kept aside outside those sessions' chains)
is signed with --signing-key (PKCS#8 Ed25519 PEM), else SKILLGATE_RECORD_SIGNING_KEY_FILE, else the
local store's key (its signing-key.pem, when it has one: an export never writes one), else a key made
for this export (which proves nothing about who exported it: give a key the bundle's readers know,
and they pin it with 'verify --public-key').
The sessions are verified first (as 'sessions verify' does, with the store's keys, heads and
listing): a record that fails is not exported — a bundle cannot show events cut from the end of a
chain, the store's own heads can. --force exports it anyway, the failure written into the signed
manifest (and 'skillgate verify' of that bundle then fails, naming it). A session the store does not
hold at all is not exported, --force or not.
Filters with --all: --skill --owner --namespace --since --until. --all also takes every session the
store holds but its listing does not name (the listing altered to hide it), whatever the filters:
each fails the check as misfiled, so only --force exports them.\n\n${storeHelp}`,
  options: { ...storeOptions, ...filterOptions, ...outputOption, all: { type: 'boolean' }, out: { type: 'string' }, 'signing-key': { type: 'string' }, force: { type: 'boolean' } },
  async run({ values, positionals }) {
    const out = str(values, 'out');
    if (!out) throw new CliError(`--out FILE is required. Usage: skillgate ${this.usage}`, 2);
    if (positionals.length === 0 && !values.all) throw new CliError(`name a session or pass --all. Usage: skillgate ${this.usage}`, 2);
    if (positionals.length > 0 && values.all) throw new CliError('name sessions or pass --all, not both', 2);
    const filtered = Object.keys(filterOptions).filter((f) => values[f] !== undefined);
    if (filtered.length > 0 && !values.all) throw new CliError(`--${filtered[0]} filters --all; named sessions are exported whole`, 2);
    checkSessionIds(positionals);
    const filter = filterFrom(values);
    // Where the bundle goes, and the key it is signed with, are checked before any session is read.
    const outDir = bundleDir(out);
    const keyFile = str(values, 'signing-key') ?? (process.env.SKILLGATE_RECORD_SIGNING_KEY_FILE || undefined);
    const given = keyFile === undefined ? undefined : loadExporter({ keyFile });
    const exported = await withStore(values, async (store) => {
      // A local store's own key when it has one; never one made and written into the record.
      const local = store.location.startsWith('local store ') ? store.location.slice('local store '.length) : undefined;
      const { signer, ephemeral } = given ?? loadExporter({ dir: local });
      // With --all, sessions the store holds but does not list go too, and fail the check (misfiled):
      // a listing altered to hide one must not make a bundle that looks whole.
      const ids = values.all ? [...(await store.listSessions(filter)).map((s) => s.sessionId), ...(await unlistedSessions(store))] : [...new Set(positionals)];
      if (ids.length === 0) throw new CliError(`no session in ${store.location} matches those filters: nothing to export`);
      if (!values.all) await assertHeld(store, ids);
      const checking = progress('verified sessions');
      const verified = await verifyRecord(store, { sessionIds: ids, onProgress: (d, t) => checking.update(d, t) });
      if (!verified.ok && !values.force) {
        checking.clear();
        throw new CliError(`not exported: the record fails verification (${describeProblem(verified.firstProblem!)}); 'skillgate sessions verify' names every problem, --force exports it anyway with the failure written into the signed manifest`);
      }
      checking.done(verified.ok ? `verified ${ids.length} session(s)` : `verification failed; exporting anyway (--force): ${describeProblem(verified.firstProblem!)}`);
      const bar = progress('exported sessions');
      const sessions = new Map<string, SessionEvent[]>();
      for (const id of ids) {
        sessions.set(id, await readExisting(store, id));
        bar.update(sessions.size, ids.length);
      }
      // Only the checkpoints that commit an exported session travel with it.
      const checkpoints = (await store.checkpoints()).filter((cp) => cp.heads.some((h) => sessions.has(h.sessionId)));
      const keptAside = store.keptAside ? await store.keptAside() : [];
      const made = buildBundle({ source: store.location, sessions, checkpoints: withWriterChains(checkpoints, await store.checkpoints()), keptAside, publicKeys: await store.publicKeys(), exporter: signer, exporterKeyEphemeral: ephemeral, verified });
      return { made, bar };
    });
    const { made: bundle, bar } = exported;
    // Written beside its place and renamed: a reader never sees half a bundle, nor a failed export the old one gone.
    const partial = join(outDir, `.${basename(resolve(out))}.${process.pid}.partial`);
    try {
      writeFileSync(partial, `${JSON.stringify(bundle)}\n`);
      renameSync(partial, out);
    } catch (err) {
      rmSync(partial, { force: true });
      throw new CliError(`cannot write ${out}: ${(err as Error).message}`);
    }
    const events = bundle.manifest.sessions.reduce((n, s) => n + s.events, 0);
    const aside = bundle.keptAside?.length ? `, ${bundle.keptAside.length} event(s) kept aside outside their chains` : '';
    bar.done(`wrote ${out}: ${bundle.manifest.sessions.length} session(s), ${events} event(s), ${bundle.checkpoints.length} checkpoint(s)${aside}`);
    printData(values, { out, manifest: bundle.manifest, manifestHash: bundle.manifestHash }, () => `${out}  manifest sha256 ${bundle.manifestHash}  signed by ${bundle.manifest.exporterKeyId}${bundle.manifest.exporterKeyEphemeral ? ' (ephemeral key)' : ''}`);
    return 0;
  },
};

/**
 * The directory the bundle `out` is written in (its temporary file beside it): refused when `out` is
 * a directory or not a regular file (a device, a socket), or its directory is not a writable one.
 */
function bundleDir(out: string): string {
  const target = resolve(out);
  const stat = (path: string): Stats | undefined => {
    try { return statSync(path); } catch { return undefined; }
  };
  const existing = stat(target);
  // `--out some/dir/` names a directory, whether or not one is there yet.
  if (existing?.isDirectory() || /[\\/]$/.test(out)) throw new CliError(`cannot write ${out}: it is a directory; give the bundle's file name (e.g. ${join(out, 'evidence.json')})`);
  if (existing && !existing.isFile()) throw new CliError(`cannot write ${out}: it is not a regular file`);
  const dir = dirname(target);
  try {
    if (!stat(dir)?.isDirectory()) throw new Error('not a directory');
    accessSync(dir, constants.W_OK);
  } catch {
    throw new CliError(`cannot write ${out}: ${dir} is not a writable directory`);
  }
  return dir;
}

/**
 * Every named session is one the store holds (events, a head, or a checkpoint committing it), said
 * before verifying: a typo is not a record that fails verification, and --force cannot export it.
 */
async function assertHeld(store: SessionReader, ids: readonly string[]): Promise<void> {
  let committed: Set<string> | undefined;
  for (const id of ids) {
    if ((await store.readSession(id)).length > 0 || (await store.head?.(id)) !== undefined) continue;
    committed ??= new Set((await store.checkpoints()).flatMap((cp) => cp.heads.map((h) => h.sessionId)));
    if (!committed.has(id)) throw new CliError(`no session ${id} in ${store.location}: nothing to export (skillgate sessions list shows what it holds)`);
  }
}

/**
 * Checkpoints verify as a per-writer chain, so a bundle keeps each involved writer's checkpoints
 * from its first relevant one onwards (a gap would read as a missing checkpoint).
 */
function withWriterChains(relevant: readonly Checkpoint[], all: readonly Checkpoint[]): Checkpoint[] {
  const firstSeq = new Map<string, number>();
  for (const cp of relevant) if (!firstSeq.has(cp.writer) || cp.seq < firstSeq.get(cp.writer)!) firstSeq.set(cp.writer, cp.seq);
  return all.filter((cp) => firstSeq.has(cp.writer) && cp.seq >= firstSeq.get(cp.writer)!);
}

/** The exporter's key: a key file, else a local store's own key, else one made for this export (ephemeral). */
function loadExporter(from: { keyFile?: string; dir?: string }) {
  try {
    return loadSigner({ ...from, create: false });
  } catch (err) {
    throw new CliError(`cannot load the signing key: ${(err as Error).message}`);
  }
}

export const sessionsCommands: Command[] = [
  sessionsListCommand, sessionsShowCommand, sessionsReplayCommand, sessionsFindCommand, sessionsVerifyCommand, sessionsExportCommand,
];
