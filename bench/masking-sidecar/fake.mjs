// The upstream for the masking-through-the-sidecar benchmark: fake Claude on a free port, answering
// with a short echo. Prints `READY <url>`.
import { startFakeClaude } from '../../packages/fake-claude/dist/src/index.js';
const fake = await startFakeClaude({ port: 0, recordRequests: false });
console.log(`READY ${fake.url}`);
process.on('SIGTERM', () => void fake.close().then(() => process.exit(0)));
