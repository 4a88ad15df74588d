// Egress attempts journaled without letting a flood take the record over. A skill can try
// destinations (a DNS name, a connection) far faster than anyone will read them or the record should
// take them: attempts are journaled one by one up to a budget a second, and past it counted, the
// count journaled as one egress event when the second is over. One journal takes the refusals (of
// the egress proxy and the DNS guard: one budget); another what is let through (the proxy's
// connections, and the names the DNS guard resolves under a wildcard of the allowlist, whose labels
// are the skill's to write). Every attempt is refused, or let through, all the same.
import { newRequestId } from '@skillgate/wire';
import type { SidecarContext } from '../context.js';
import type { EgressAttempt } from '../ports/journal.js';
import { DenialBudget } from '../denial-budget.js';

/** The one event a second's counted attempts become. */
export type CountedAttempts = (count: number, perSecond: number) => Omit<EgressAttempt, 'requestId'>;

/** Refusals past the budget. */
export const REFUSALS_COUNTED: CountedAttempts = (count, perSecond) => ({
  method: 'refused', destination: `${count} more attempts`, allowed: false,
  reason: `${count} further egress attempts (DNS names or connections outside the egress allowlist) were refused in one second, past the ${perSecond} a second recorded one by one`,
});

/** Allowed attempts (connections, names resolved under an allowlisted wildcard), past the budget. */
export const ALLOWED_COUNTED: CountedAttempts = (count, perSecond) => ({
  method: 'allowed', destination: `${count} more attempts`, allowed: true,
  reason: `${count} further allowed egress attempts (connections, or names under a wildcard of the allowlist) were let through in one second, past the ${perSecond} a second recorded one by one`,
});

export class BudgetedEgressJournal {
  private readonly budget: DenialBudget;
  /** Journals what a flood's last second left counted, should no later attempt come to do it. */
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: Pick<SidecarContext, 'journal'>, readonly perSecond: number, private readonly clock: () => number = Date.now,
    private readonly counted: CountedAttempts = REFUSALS_COUNTED,
  ) {
    this.budget = new DenialBudget(perSecond, clock);
  }

  record(attempt: EgressAttempt): void {
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
    this.ctx.journal.egress({ requestId: newRequestId(), ...this.counted(count, this.perSecond) });
  }
}
