// libphonenumber-js's number parser with its full ("max") metadata, from the package's "core" entry
// (the functions that take metadata as an argument). The numeric detector only parses and validates
// a candidate. In the shipped bundle (packages/cli/bundle.mjs) only the parser and what it calls are
// kept (the package declares no side effects), so a skill pod does not pay for AsYouType, the
// number finder or the formatter, whose set-up costs ~9 MB of resident memory when the package
// index is loaded unbundled (tests, `make dev`).
import { parsePhoneNumberFromString, type CountryCode, type MetadataJson, type PhoneNumber } from 'libphonenumber-js/core';
import metadata from 'libphonenumber-js/metadata.max';

/** Parse `text` as a phone number (national numbers as `defaultCountry`'s); undefined if it is none. */
export function parsePhoneNumber(text: string, defaultCountry: CountryCode): PhoneNumber | undefined {
  return parsePhoneNumberFromString(text, defaultCountry, metadata as MetadataJson);
}

/**
 * The forms a phone number may have been fingerprinted in besides the one it is written in
 * (fingerprintForm: as written, without separators): with its country code (+14155550132), with
 * the code but no '+' (14155550132), and without it (4155550132), as the numeric detector reads a
 * national number (as a US one). None for a value that is no valid phone number. For `sessions find`:
 * searching one way of writing a number finds the others.
 */
export function phoneSearchForms(value: string): string[] {
  let parsed: PhoneNumber | undefined;
  try { parsed = parsePhoneNumber(value, 'US'); } catch { return []; }
  if (!parsed?.isValid()) return [];
  return [parsed.number, `${parsed.countryCallingCode}${parsed.nationalNumber}`, parsed.nationalNumber];
}
