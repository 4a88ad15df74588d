// @skillgate/fake-claude — a faithful stand-in for Anthropic's API, for tests, `make dev` and
// benchmarks. It answers on loopback only what a client asks; it never calls out anywhere.
export { startFakeClaude, type FakeClaude, type FakeClaudeOptions } from './server.js';
export type { Reply, ContentReply, ErrorReply, ErrorMidStreamReply, DieMidStreamReply, FixtureReply, ToolCall, ScriptedError, StreamEvent } from './reply.js';
export { buildMessage, foldFixture, generationLimits, fakeId, ID_LENGTH, type GenerationLimits, streamEvents, formatEvents, splitText, lastUserText, echoReply, thinkingSignature } from './reply.js';
export { headerValues, type ReceivedRequest } from './received.js';
export { defaultFixturesDir, FixtureLibrary, chunkBytes, chunkByEvent } from './fixtures.js';
export { DEFAULT_MODELS, ModelCatalogue, listPage, type ModelInfo } from './models.js';
export { estimateTokens, estimateInputTokens } from './tokens.js';
export { validateMessagesRequest, listLimitProblem, DEFAULT_ERROR_MESSAGES, type MessagesValidationOptions } from './validation.js';
export { FAKE_ORGANIZATION_ID, RATE_LIMITS } from './response-headers.js';
export { runClaudeCode, claudeCodeCliPath, type ClaudeCodeRun, type ClaudeCodeOptions } from './claude-code.js';
