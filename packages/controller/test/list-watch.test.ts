// The list-then-watch loop the owner, skill-pod and SkillLock watchers share, against a scripted
// watch: events reach the caller in order with the version taken, bookmarks only move the version,
// an ERROR (410 Gone) or a dropped watch lists again and resumes from the new version, failures to
// list or to re-open back off and retry until they succeed, and stop() ends it all.
import { pino } from 'pino';
import { ListWatch, type WatchPhase } from '../src/list-watch.js';

interface Obj { metadata?: { name?: string; resourceVersion?: string } }
interface Opened { path: string; query: Record<string, unknown>; onEvent: (phase: string, obj: Obj) => void; done: (err: unknown) => void; abort: AbortController }

class ScriptedWatch {
  readonly opened: Opened[] = [];
  failOpens = 0;
  async watch(path: string, query: Record<string, unknown>, onEvent: (phase: string, obj: Obj) => void, done: (err: unknown) => void): Promise<AbortController> {
    if (this.failOpens > 0) {
      this.failOpens--;
      throw new Error('connect ECONNREFUSED');
    }
    const abort = new AbortController();
    abort.signal.addEventListener('abort', () => done(new Error('aborted')));
    this.opened.push({ path, query, onEvent, done, abort });
    return abort;
  }
  get last(): Opened { return this.opened.at(-1)!; }
}

const log = pino({ level: 'silent' });
const obj = (name: string, rv: string): Obj => ({ metadata: { name, resourceVersion: rv } });
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function setup(listResults: Array<string | Error>) {
  const watch = new ScriptedWatch();
  const events: Array<[WatchPhase, string]> = [];
  let lists = 0;
  const lw = new ListWatch<Obj>(watch, {
    what: 'thing', path: '/api/v1/things', query: { labelSelector: 'app=x' },
    list: async () => {
      const next = listResults[Math.min(lists++, listResults.length - 1)]!;
      if (next instanceof Error) throw next;
      return next;
    },
    event: (phase, o) => events.push([phase, o.metadata!.name!]),
  }, log, { firstRetryMs: 5 });
  return { watch, events, lw, lists: () => lists };
}

it('lists, watches from the list version, and hands over changes in order; bookmarks only move the version', async () => {
  const { watch, events, lw } = setup(['100', '200']);
  await lw.start();
  expect(lw.watching).toBe(true);
  expect(watch.last.path).toBe('/api/v1/things');
  expect(watch.last.query).toEqual({ labelSelector: 'app=x', allowWatchBookmarks: true, resourceVersion: '100' });
  watch.last.onEvent('ADDED', obj('a', '101'));
  watch.last.onEvent('MODIFIED', obj('a', '102'));
  watch.last.onEvent('BOOKMARK', obj('', '150'));
  watch.last.onEvent('DELETED', obj('a', '151'));
  expect(events).toEqual([['ADDED', 'a'], ['MODIFIED', 'a'], ['DELETED', 'a']]);
  // The server closes the watch (its timeout): watch again from the list that follows.
  watch.last.done(undefined);
  expect(lw.watching).toBe(false);
  await until(() => watch.opened.length === 2, 'the watch to reopen');
  expect(watch.last.query.resourceVersion).toBe('200');
  expect(lw.watching).toBe(true);
  lw.stop();
});

it('an ERROR event (410 Gone) ends the watch and lists again', async () => {
  const { watch, lw, lists } = setup(['100', '300']);
  await lw.start();
  watch.last.onEvent('ERROR', { metadata: {} });
  expect(watch.opened[0]!.abort.signal.aborted).toBe(true);
  await until(() => watch.opened.length === 2, 'the watch to reopen');
  expect(lists()).toBe(2);
  expect(watch.last.query.resourceVersion).toBe('300');
  lw.stop();
});

it('keeps retrying, with backoff, while listing or re-opening the watch fails', async () => {
  const down = new Error('connect ECONNREFUSED');
  const { watch, lw, lists } = setup(['100', down, down, '400']);
  await lw.start();
  watch.failOpens = 1; // and the first re-open after a good list fails too
  watch.last.done(new Error('connection reset'));
  await until(() => watch.opened.length === 2, 'the watch to come back');
  expect(lists()).toBe(5); // 100, two failures, 400 (open failed), 400 again
  expect(watch.last.query.resourceVersion).toBe('400');
  expect(lw.watching).toBe(true);
  lw.stop();
});

it('stop() ends the watch and every pending retry', async () => {
  const { watch, lw, lists } = setup(['100']);
  await lw.start();
  watch.last.done(new Error('connection reset')); // a relist is now scheduled
  lw.stop();
  await new Promise((r) => setTimeout(r, 50));
  expect(lists()).toBe(1);
  expect(watch.opened).toHaveLength(1);
  expect(lw.watching).toBe(false);
});
