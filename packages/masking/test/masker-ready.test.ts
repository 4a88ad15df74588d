// A masker is ready when made: it builds the phrase dictionaries (~2 MB, once per process) in its
// constructor, so a sidecar that makes its masker at start-up does not build them in its first
// request (where they would grow the young generation an idle sidecar then keeps).
import { createMasker, phraseDictionaryReady } from '../src/index.js';

describe('making a masker', () => {
  it('builds the phrase dictionaries before any text is masked', () => {
    expect(phraseDictionaryReady()).toBe(false);
    const masker = createMasker(undefined, { key: 'a masking key of 16+ bytes' });
    expect(phraseDictionaryReady()).toBe(true);
    expect(masker.maskText('Write to Jane Doe').findings.map((f) => f.type)).toEqual(['PERSON']);
  });
});
