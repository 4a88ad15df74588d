// The queue of scripted replies. Each Messages request takes the first queued reply whose `when`
// accepts it (a reply without `when` accepts anything); a reply is used up after `times` requests.
// Pure bookkeeping: no I/O.
import { isErrorReply, type Reply } from './reply.js';
import type { ReceivedRequest } from './received.js';

interface Entry { reply: Reply; remaining: number }

export class ReplyScript {
  private entries: Entry[] = [];

  add(replies: readonly Reply[]): void {
    for (const reply of replies) {
      const times = reply.times ?? 1;
      if (!(times > 0)) throw new RangeError(`times must be positive, got ${times}`);
      this.entries.push({ reply, remaining: times });
    }
  }

  /**
   * Take the reply for this request, or undefined when no scripted reply matches. Outside the
   * Messages endpoints only error replies marked `on: 'any'` match.
   */
  take(request: ReceivedRequest, messagesRoute: boolean): Reply | undefined {
    for (let i = 0; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if (!messagesRoute && !(entry.reply.on === 'any' && isErrorReply(entry.reply))) continue;
      if (entry.reply.when && !entry.reply.when(request)) continue;
      entry.remaining -= 1;
      if (entry.remaining <= 0) this.entries.splice(i, 1);
      return entry.reply;
    }
    return undefined;
  }

  /** Replies still queued (an Infinity reply counts once). */
  get pending(): number {
    return this.entries.length;
  }

  clear(): void {
    this.entries = [];
  }
}
