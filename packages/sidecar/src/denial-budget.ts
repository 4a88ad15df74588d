// A budget of refusals a second that are journaled one by one, so a skill that tries what it may not
// (destinations, malformed requests) far faster than anyone reads the record cannot take the record
// over: past the budget refusals are counted. Used by the egress refusals and the requests refused
// before they had a session.

/**
 * How many refusals a second are journaled one by one; past that, counted, the count handed on when
 * the next second begins. Pure but for the clock it is given.
 */
export class DenialBudget {
  private second = -1;
  private used = 0;
  private suppressed = 0;

  constructor(private readonly perSecond: number, private readonly clock: () => number) {}

  /** Whether this refusal is journaled; `flushed` is the count suppressed in an earlier second. */
  take(): { journal: boolean; flushed: number } {
    const second = Math.floor(this.clock() / 1000);
    let flushed = 0;
    if (second !== this.second) {
      flushed = this.suppressed;
      this.second = second;
      this.used = 0;
      this.suppressed = 0;
    }
    if (this.used < this.perSecond) {
      this.used += 1;
      return { journal: true, flushed };
    }
    this.suppressed += 1;
    return { journal: false, flushed };
  }

  /** What is still counted and not yet journaled (for a summary at close). */
  drain(): number {
    const n = this.suppressed;
    this.suppressed = 0;
    return n;
  }
}
