// Which session a request belongs to, and the ids of sessions a request names: stable, scoped to the
// skill, and keyed by the installation masking key so that reading Redis confirms no guess of a key.
import { createHmac, hash } from 'node:crypto';
import { chooseSession, sessionIdForKey, sessionIds } from '../src/session-key.js';

const identity = { namespace: 'team-a', serviceAccount: 'default', pod: 'bot-1', skill: 'triage', owner: 'jane@example.com' };
const scope = (key: string, source = 'metadata-user-id') => `team-a\u0000triage\u0000bot-1\u0000${source}\u0000${key}`;

describe('session ids of the sessions a request names', () => {
  test('an HMAC under the masking key, not a hash anyone can recompute from a guessed key', () => {
    const id = sessionIdForKey(identity, 'metadata-user-id', 'jane.doe@example.com', 'installation-masking-key');
    expect(id).toBe(`ses_${createHmac('sha256', 'installation-masking-key').update(scope('jane.doe@example.com')).digest('hex').slice(0, 32)}`);
    expect(id).not.toBe(`ses_${hash('sha256', scope('jane.doe@example.com'), 'hex').slice(0, 32)}`);
    expect(sessionIdForKey(identity, 'metadata-user-id', 'jane.doe@example.com', 'another-key-entirely')).not.toBe(id);
    // Without a key (a caller that has none): the plain hash, as before.
    expect(sessionIdForKey(identity, 'metadata-user-id', 'jane.doe@example.com')).toBe(`ses_${hash('sha256', scope('jane.doe@example.com'), 'hex').slice(0, 32)}`);
  });

  test('chooseSession keys the id of a named session, stable across calls; a time-gap session is minted', () => {
    const input = { identity, headers: {}, body: { metadata: { user_id: 'jane.doe@example.com' } } };
    const a = chooseSession(input, undefined, undefined, 0, undefined, 'k'.repeat(32));
    expect(a).toEqual({ sessionId: sessionIdForKey(identity, 'metadata-user-id', 'jane.doe@example.com', 'k'.repeat(32)), source: 'metadata-user-id', isNew: false });
    expect(chooseSession(input, undefined, undefined, 1, undefined, 'k'.repeat(32)).sessionId).toBe(a.sessionId);
    expect(chooseSession({ identity, headers: {}, body: {} }, undefined, undefined, 0, () => 'ses_new', 'k'.repeat(32))).toEqual({ sessionId: 'ses_new', source: 'time-gap', isNew: true });
  });

  test('sessionIds remembers the ids it made (one HMAC per key, not per request), per key and secret, bounded', () => {
    const ids = sessionIds(2);
    const made = ids(identity, 'claude-code-session', 'c0ffee', 'k1');
    expect(made).toBe(sessionIdForKey(identity, 'claude-code-session', 'c0ffee', 'k1'));
    expect(ids(identity, 'claude-code-session', 'c0ffee', 'k1')).toBe(made);
    expect(ids(identity, 'claude-code-session', 'c0ffee', 'k2')).toBe(sessionIdForKey(identity, 'claude-code-session', 'c0ffee', 'k2'));
    expect(ids({ ...identity, pod: 'bot-2' }, 'claude-code-session', 'c0ffee', 'k1')).toBe(sessionIdForKey({ ...identity, pod: 'bot-2' }, 'claude-code-session', 'c0ffee', 'k1'));
    expect(ids(identity, 'claude-code-session', 'c0ffee', 'k1')).toBe(made); // after a reset, made again alike
  });
});
