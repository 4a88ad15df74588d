// Stage 0 — the path as written: routing, policy and masking go by the path's text, so a path a
// server could read as another (/v1/x/../messages, /v1/%6Dessages) would pass as an unknown route,
// uninspected. Such a path is refused before anything else (pathProblem in @skillgate/wire says which).
import { GatewayError, codes, pathProblem } from '@skillgate/wire';
import type { Exchange } from '../exchange.js';

export function checkPath(x: Exchange): void {
  const problem = pathProblem(x.route.path);
  if (problem) {
    throw new GatewayError(codes.badRequest, 'invalid_request_error',
      `skillgate forwards Claude API paths only in their plain form, and ${JSON.stringify(x.route.path.slice(0, 200))} is not: ${problem}.`);
  }
}
