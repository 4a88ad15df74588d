import { sealEvent } from '@skillgate/record';
import { describeEvent } from '../src/commands/sessions.js';
import { printable } from '../src/command.js';

const identity = { namespace: 'payments', serviceAccount: 'sa', pod: 'pod-1', skill: 'refunds', owner: 'contractor@example.com' };
const response = (data: Record<string, unknown>) => sealEvent({ kind: 'response', sessionId: 'ses_d', identity, requestId: 'req_1', data: { headers: {}, status: 200, stream: false, ...data } as never }, undefined);

describe('the timeline line of an answered upload', () => {
  it('names its size and digest, what was found in its text files and what was not read', () => {
    const upload = {
      bytes: 25165905, sha256: 'ab12cd34ef56'.padEnd(64, '0'), found: 524288,
      findings: [{ type: 'EMAIL_ADDRESS', start: 20, end: 36, fingerprint: 'f'.repeat(64), path: 'file#0' }],
      unread: 'only its first 4194304 bytes were read',
    };
    expect(describeEvent(response({ bodyBytes: 312, upload }))).toBe(
      '200 312 bytes  upload 25165905 bytes sha256=ab12cd34ef56  upload findings: EMAIL_ADDRESS (524288 in all, 1 distinct)  unread: only its first 4194304 bytes were read');
  });

  it('says only size and digest when nothing was found or read', () => {
    expect(describeEvent(response({ bodyBytes: 40, upload: { bytes: 10, sha256: 'a'.repeat(64) } }))).toBe(`200 40 bytes  upload 10 bytes sha256=${'a'.repeat(12)}`);
  });
});

describe('text for a terminal', () => {
  it('shows control characters, C1 controls and bidirectional overrides instead of passing them to the terminal', () => {
    expect(printable('a\u001b[1A\u001b[2K\rb\tc\nd\u0007\u009b31m\u202eevil\u2066')).toBe('a\\x1b[1A\\x1b[2K\\x0db\tc\nd\\x07\\x9b31m\\u{202e}evil\\u{2066}');
    expect(printable('plain text, ünïcödé and emoji 🙂 stay')).toBe('plain text, ünïcödé and emoji 🙂 stay');
  });
});
