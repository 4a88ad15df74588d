// libphonenumber-js's number parser with its full ("max") metadata, loaded without the package
// index. The index (libphonenumber-js/max) also loads AsYouType, the number finder and formatter,
// whose module-level set-up costs ~11 MB of resident memory in every skill pod; the numeric detector
// only parses and validates a candidate. The parser and metadata are the package's own (its CommonJS
// build, pinned in package-lock.json); should a later version move that file, the index is used.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { CountryCode, MetadataJson, PhoneNumber } from 'libphonenumber-js/core';

type Parse = (text: string, defaultCountry: CountryCode) => PhoneNumber | undefined;

const require = createRequire(import.meta.url);

function load(): { parse: Parse; source: 'parser' | 'index' } {
  try {
    const dir = dirname(require.resolve('libphonenumber-js/package.json'));
    const parser = (require(join(dir, 'build/parsePhoneNumber.js')) as { default: (t: string, c: CountryCode, m: MetadataJson) => PhoneNumber | undefined }).default;
    const metadata = require('libphonenumber-js/metadata.max.json') as MetadataJson;
    if (typeof parser !== 'function') throw new Error('libphonenumber-js moved its parser');
    return { parse: (text, country) => parser(text, country, metadata), source: 'parser' };
  } catch {
    const index = require('libphonenumber-js/max') as typeof import('libphonenumber-js/max');
    return { parse: (text, country) => index.parsePhoneNumberFromString(text, country), source: 'index' };
  }
}

const loaded = load();

/** Parse `text` as a phone number (national numbers as `defaultCountry`'s); undefined if it is none. */
export const parsePhoneNumber: Parse = loaded.parse;

/** Which way the parser was loaded: 'parser' (the lean path) unless the package changed. */
export const phoneParserSource = loaded.source;
