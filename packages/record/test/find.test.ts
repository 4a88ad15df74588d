import { sealEvent } from '../src/chain.js';
import { fingerprintOf, matchFingerprint } from '../src/find.js';
import { identity } from './support.js';

const KEY = 'find-test-key';
const fp = (v: string) => fingerprintOf(KEY, v);
const finding = (value: string, extra = {}) => ({ type: 'EMAIL_ADDRESS', start: 0, end: value.length, fingerprint: fp(value), ...extra });

describe('matchFingerprint', () => {
  const response = (data: Record<string, unknown>) => sealEvent({ kind: 'response', sessionId: 'ses_f', identity, requestId: 'req_9', data: { headers: {}, status: 200, stream: false, ...data } as never }, undefined);

  it('names a response that returned the value as Claude\'s', () => {
    expect(matchFingerprint(response({ findings: [finding('a@example.com')] }), fp('a@example.com'))).toMatchObject({ kind: 'response', direction: 'response', requestId: 'req_9', types: ['EMAIL_ADDRESS'] });
  });

  it('names the answer to an upload whose file held the value as the skill\'s', () => {
    const upload = { bytes: 10, sha256: 'a'.repeat(64), found: 3, findings: [finding('a@example.com', { path: 'file#0' }), finding('b@example.com', { path: 'file#1' })] };
    expect(matchFingerprint(response({ upload }), fp('b@example.com'))).toMatchObject({ kind: 'response', direction: 'request', types: ['EMAIL_ADDRESS'] });
    expect(matchFingerprint(response({ upload }), fp('c@example.com'))).toBeUndefined();
  });
});
