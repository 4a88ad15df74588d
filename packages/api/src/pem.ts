// PEM certificate bundles as skillgate passes CAs around: the controller's CA bundle the webhook
// injects into sidecars and the controller hands over with each token. A bundle is text made of
// CERTIFICATE blocks and nothing else (no private key pasted beside them). Pure.

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----/g;

/**
 * The CERTIFICATE blocks of `text`, in order, when it holds at least one and nothing else but
 * whitespace; undefined otherwise. Whether each block is a certificate that parses is the caller's
 * to check where it matters.
 */
export function certificateBlocks(text: string): string[] | undefined {
  const blocks = text.match(CERTIFICATE_BLOCK);
  if (!blocks || text.replace(CERTIFICATE_BLOCK, '').trim() !== '') return undefined;
  return blocks;
}
