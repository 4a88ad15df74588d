// Expect: 100-continue (RFC 9110 §10.1.1): a skill that asks to hear before it sends its body is told
// "100 Continue" only once skillgate wants the body — after the checks that can refuse the request
// on its head (a Content-Length over the limit) — so a body that would be refused is never sent.
// A request refused before that is answered with the connection closed: the skill will not send
// the body its head announced, and nothing else could follow on that connection.
import type { ServerResponse } from 'node:http';
import type { Exchange } from './exchange.js';

const AWAITING = Symbol('skillgate.awaitingContinue');
type AwaitingResponse = ServerResponse & { [AWAITING]?: boolean };

/** The request behind `res` waits for "100 Continue" before it sends its body. */
export function awaitContinue(res: ServerResponse): void {
  (res as AwaitingResponse)[AWAITING] = true;
}

/** The body is wanted now: tell a skill that waits for it to send it. */
export function wantBody(x: Exchange): void {
  const res = x.res as AwaitingResponse;
  if (res[AWAITING] !== true) return;
  res[AWAITING] = false;
  if (!res.headersSent) res.writeContinue();
}

/** The skill still waits to be asked for its body (a refusal now closes the connection). */
export function bodyNeverAsked(x: Exchange): boolean {
  return (x.res as AwaitingResponse)[AWAITING] === true;
}
