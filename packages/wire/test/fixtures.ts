// Where the recorded Anthropic SSE streams live: ../shared/fixtures/anthropic-sse next to the repo
// (read-only, MIT, from Anthropic's Python SDK tests), or SKILLGATE_FIXTURES when set.
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

const here = fileURLToPath(new URL('.', import.meta.url)); // packages/wire/dist/test/
export const fixtureDir = process.env.SKILLGATE_FIXTURES ?? resolve(here, '../../../../../shared/fixtures/anthropic-sse');
