// Refused egress, journaled without letting a flood take the record over. A skill can try
// destinations (a DNS name, a connection) far faster than anyone will read them or the record should
// take them: refusals are journaled one by one up to a budget a second, and past it counted, the
// count journaled as one egress event when the second is over. Every attempt is refused all the same.
import { newRequestId } from '@skillgate/wire';
import type { SidecarContext } from '../context.js';
import type { EgressAttempt } from '../ports/journal.js';
import { DenialBudget } from '../denial-budget.js';

/** Journals refusals through the budget, and each second's count of the rest. */
export class RefusalJournal {
  private readonly budget: DenialBudget;
  /** Journals what a flood's last second left counted, should no later refusal come to do it. */
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: Pick<SidecarContext, 'journal'>, readonly perSecond: number, private readonly clock: () => number = Date.now) {
    this.budget = new DenialBudget(perSecond, clock);
  }

  refused(attempt: EgressAttempt): void {
    const { journal, flushed } = this.budget.take();
    this.journalCount(flushed);
    if (journal) {
      this.ctx.journal.egress(attempt);
    } else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        this.journalCount(this.budget.drain());
      }, 1000 - (this.clock() % 1000) + 1);
      this.flushTimer.unref();
    }
  }

  /** Journal what is still counted (at shutdown). */
  close(): void {
    clearTimeout(this.flushTimer);
    this.journalCount(this.budget.drain());
  }

  private journalCount(count: number): void {
    if (count === 0) return;
    this.ctx.journal.egress({
      requestId: newRequestId(), method: 'refused', destination: `${count} more attempts`, allowed: false,
      reason: `${count} further egress attempts (DNS names or connections outside the egress allowlist) were refused in one second, past the ${this.perSecond} a second recorded one by one`,
    });
  }
}
