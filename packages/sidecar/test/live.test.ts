// The registry of live exchanges (live.ts): adding and removing in any order, removing twice, and
// sweeping — only matching exchanges are killed, each once, even when a kill ends other exchanges.
import { LiveExchanges, type LiveEntry } from '../src/live.js';
import { GatewayError, codes } from '@skillgate/wire';
import type { LockSubject, Refusal } from '../src/ports/index.js';

const identity = { namespace: 'ns', serviceAccount: 'sa', pod: 'p', skill: 's', owner: 'o@x' };
const subject = (sessionId: string): LockSubject => ({ identity, sessionId });
const hit = (name: string): Refusal => ({ error: new GatewayError(codes.locked, 'permission_error', `locked by ${name}`), hit: { lockName: name, reason: 'test' } });

describe('LiveExchanges', () => {
  it('counts what is live; removing twice is harmless', () => {
    const live = new LiveExchanges();
    const leave = ['a', 'b', 'c', 'd'].map((s) => live.add({ subject: subject(s), kill: () => undefined }));
    expect(live.size).toBe(4);
    expect(live.admitted).toBe(4);
    leave[2]!(); leave[0]!(); leave[3]!();
    leave[0]!();
    expect(live.size).toBe(1);
    leave[1]!();
    expect(live.size).toBe(0);
    expect(live.admitted).toBe(4);
  });

  it('sweeps: kills each matching exchange once and leaves the rest registered', () => {
    const live = new LiveExchanges();
    const killed: string[] = [];
    const add = (s: string) => live.add({ subject: subject(s), kill: (r) => killed.push(`${s}:${r.hit!.lockName}`) });
    add('keep-1'); add('cut-1'); add('keep-2'); add('cut-2');
    expect(live.sweep((sub) => (sub.sessionId.startsWith('cut') ? hit('lock-a') : undefined))).toBe(2);
    expect(killed.sort()).toEqual(['cut-1:lock-a', 'cut-2:lock-a']);
    expect(live.size).toBe(2);
    expect(live.sweep((sub) => (sub.sessionId.startsWith('cut') ? hit('lock-a') : undefined))).toBe(0); // gone
    expect(live.sweep(() => hit('lock-b'))).toBe(2);
    expect(live.size).toBe(0);
  });

  it('survives kills that end other exchanges or start new ones while it sweeps', () => {
    const live = new LiveExchanges();
    const killed: string[] = [];
    const leaves = new Map<string, () => void>();
    const add = (s: string, onKill?: () => void): void => {
      const entry: LiveEntry = { subject: subject(s), kill: () => { killed.push(s); onKill?.(); } };
      leaves.set(s, live.add(entry));
    };
    add('c');
    add('b');
    add('a', () => { leaves.get('b')!(); add('new'); }); // killing a ends b (already matched) and starts another
    expect(live.sweep((sub) => (sub.sessionId === 'new' ? undefined : hit('l')))).toBe(3);
    expect(killed).toEqual(['a', 'b', 'c']);
    expect(live.size).toBe(1); // only the exchange started during the sweep
  });
});
