// A CA bundle is CERTIFICATE blocks and nothing else: what the webhook injects, the validator
// compares and the sidecar keeps must all read it the same way.
import { certificateBlocks } from '../src/pem.js';

const block = (body: string) => `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;

test('the blocks of a bundle, in order, whatever whitespace sits between them', () => {
  expect(certificateBlocks(`${block('QUFB')}\n\n${block('QkJC')}`)).toEqual([block('QUFB').trim(), block('QkJC').trim()]);
  expect(certificateBlocks(block('QUFB').replace(/\n/g, '\r\n'))).toHaveLength(1);
});

test('anything besides certificate blocks makes it no bundle: a key beside them, text, a block of other kind, nothing at all', () => {
  for (const text of [
    `${block('QUFB')}-----BEGIN PRIVATE KEY-----\nQUFB\n-----END PRIVATE KEY-----\n`,
    `# my CA\n${block('QUFB')}`,
    '-----BEGIN TRUSTED CERTIFICATE-----\nQUFB\n-----END TRUSTED CERTIFICATE-----\n',
    block('QU!B'),
    '', '   ',
  ]) expect([text, certificateBlocks(text)]).toEqual([text, undefined]);
});
