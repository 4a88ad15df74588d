// Where the recorded Anthropic SSE streams live: packages/fake-claude/fixtures/anthropic-sse (MIT,
// copied unchanged from Anthropic's Python SDK tests via shared/fixtures), or SKILLGATE_FIXTURES.
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

const here = fileURLToPath(new URL('.', import.meta.url)); // packages/wire/dist/test/
export const fixtureDir = process.env.SKILLGATE_FIXTURES ?? resolve(here, '../../../fake-claude/fixtures/anthropic-sse');
