// A lock placed while a stream is open cuts it: the skill receives a well-formed permission_error
// event naming the lock, the upstream request is aborted, and the next request is refused. The
// lock feed here is an in-process LockGuard (the Redis-fed one has its own tests).
import http from 'node:http';
import { startSidecar, type LockGuard, type LockHit, type LockSubject, type Sidecar } from '../src/index.js';
import { createLogger } from '../src/log.js';
import { startUpstreamDouble, type UpstreamDouble } from './upstream-double.js';

class InProcessLocks implements LockGuard {
  private readonly skills = new Map<string, LockHit>();
  private readonly listeners: Array<() => void> = [];
  lockSkill(skill: string, hit: LockHit): void {
    this.skills.set(skill, hit);
    this.listeners.forEach((l) => l());
  }
  match(subject: LockSubject): LockHit | undefined {
    return this.skills.get(subject.identity.skill);
  }
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }
  refusal() {
    return undefined;
  }
}

describe('killing live streams with a lock', () => {
  let upstream: UpstreamDouble;
  let sidecar: Sidecar;
  const locks = new InProcessLocks();

  beforeAll(async () => {
    upstream = await startUpstreamDouble();
    sidecar = await startSidecar({
      upstreamUrl: upstream.url, upstreamApiKey: 'k',
      listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' },
      identity: { skill: 'invoice-summarizer', owner: 'contractor@example.com' },
    }, { logger: createLogger('silent'), locks });
  });
  afterAll(async () => {
    await sidecar.close();
    await upstream.close();
  });

  it('cuts an open stream with a permission_error event naming the lock and aborts the upstream', async () => {
    upstream.queue({ headers: { 'content-type': 'text/event-stream; charset=utf-8' }, chunks: ['event: message_start\ndata: {"type":"message_start"}\n\n'], hold: true });
    const upstreamAborted = upstream.nextAbort();
    const received = await new Promise<string>((resolve, reject) => {
      const req = http.request(new URL('/v1/messages', sidecar.claudeUrl), { method: 'POST', agent: false }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d.toString();
          if (text.includes('message_start') && !text.includes('error')) {
            locks.lockSkill('invoice-summarizer', { lockName: 'offboard-contractor', reason: 'owner contractor@example.com was offboarded' });
          }
        });
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    });
    await upstreamAborted;
    const errorEvent = received.split('\n\n').find((e) => e.startsWith('event: error'))!;
    const data = JSON.parse(errorEvent.split('data: ')[1]!);
    expect(data.error.type).toBe('permission_error');
    expect(data.error.message).toContain('offboard-contractor');
    expect(data.error.message).toContain('offboarded');
  });

  it('refuses the next request of the locked skill before it reaches the upstream', async () => {
    const before = upstream.received.length;
    const res = await fetch(new URL('/v1/messages', sidecar.claudeUrl), {
      method: 'POST', body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(403);
    const body = await res.json() as { error: { type: string; message: string } };
    expect(body.error.type).toBe('permission_error');
    expect(body.error.message).toContain('offboard-contractor');
    expect(upstream.received.length).toBe(before);
  });
});
