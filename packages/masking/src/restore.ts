// Tokenize mode, the way back: placeholders (<EMAIL_ADDRESS_1a2b3c4d5e6f7a8b>) in Claude's output become
// the values again before the skill sees them. Streaming needs a hold-back too, because a
// placeholder can arrive split across deltas; only text from a '<' that could still begin a
// placeholder is held. Unknown placeholders are left as they are.
import { PLACEHOLDER_MAX, PLACEHOLDER_PREFIX_RE as PREFIX, PLACEHOLDER_RE, type Vault } from './actions.js';

export function restoreText(text: string, vault: Vault, jsonEscape = false): string {
  if (text.indexOf('<') < 0) return text;
  return text.replace(PLACEHOLDER_RE, (p) => {
    const v = vault.get(p);
    if (v === undefined) return p;
    return jsonEscape ? JSON.stringify(v).slice(1, -1) : v;
  });
}

/** Restores placeholders in a growing text; `jsonEscape` for partial_json (values go inside JSON strings). */
export class RestoreStream {
  private pending = '';
  constructor(private readonly vault: Vault, private readonly jsonEscape = false) {}

  get held(): number { return this.pending.length; }

  push(delta: string): string {
    const text = this.pending + delta;
    // Hold from the last '<' when what follows could still grow into a placeholder.
    const lt = text.lastIndexOf('<');
    let cut = text.length;
    if (lt >= 0 && text.length - lt <= PLACEHOLDER_MAX && PREFIX.test(text.slice(lt))) cut = lt;
    this.pending = text.slice(cut);
    return restoreText(text.slice(0, cut), this.vault, this.jsonEscape);
  }

  end(): string {
    const rest = this.pending;
    this.pending = '';
    return restoreText(rest, this.vault, this.jsonEscape);
  }
}
