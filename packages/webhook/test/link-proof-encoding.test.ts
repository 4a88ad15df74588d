// A signed-link proof is compared as canonical base64url text: a last character changed only in
// its padding bits decodes to the same bytes, and must still be refused as tampering.
import { linkDecisionProblem, signLinkDecision } from '../src/validate-approval.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const SECRET = 'link-secret-for-encoding-test-0123';
const claims = { namespace: 'skills', name: 'triage-req-1', action: 'approve' as const, user: 'bob@example.com', groups: [], reason: 'ok' };

it('refuses a proof whose last character differs only in padding bits', () => {
  const exp = Math.floor(Date.now() / 1000) + 600;
  const proof = signLinkDecision(SECRET, { ...claims, exp });
  expect(linkDecisionProblem(SECRET, proof, claims, Date.now())).toBeUndefined();
  const last = proof.at(-1)!;
  const variant = proof.slice(0, -1) + ALPHABET[ALPHABET.indexOf(last) ^ 1]; // flips a padding bit of 32 bytes' encoding
  expect(Buffer.from(variant.split('.')[2]!, 'base64url').equals(Buffer.from(proof.split('.')[2]!, 'base64url'))).toBe(true);
  expect(linkDecisionProblem(SECRET, variant, claims, Date.now())).toMatch(/forged or altered/);
});
