// The sidecar's configuration: the idle hand-back setting and the masking key from the environment,
// their defaults, and a clear error at start for a bad value.
import { ConfigError, configFromEnv, inspectableBatchBytes, resolveConfig } from '../src/config.js';

describe('idle hand-back setting', () => {
  it('defaults to 5 minutes and reads SKILLGATE_IDLE_SETTLE_SECONDS (0: never)', () => {
    expect(resolveConfig({}).idleSettleMs).toBe(300_000);
    expect(resolveConfig(configFromEnv({ SKILLGATE_IDLE_SETTLE_SECONDS: '5' })).idleSettleMs).toBe(5000);
    expect(resolveConfig(configFromEnv({ SKILLGATE_IDLE_SETTLE_SECONDS: '0' })).idleSettleMs).toBe(0);
  });

  it('refuses a value that is not a duration, naming the field', () => {
    expect(() => resolveConfig(configFromEnv({ SKILLGATE_IDLE_SETTLE_SECONDS: 'soon' })))
      .toThrow(new ConfigError('idleSettleMs', 'must be 0 (never) or a number of milliseconds (from SKILLGATE_IDLE_SETTLE_SECONDS: seconds), got NaN'));
    expect(() => resolveConfig({ idleSettleMs: -1 })).toThrow(/idleSettleMs: must be 0 \(never\)/);
  });
});

describe('masking key', () => {
  it('refuses a key shorter than 16 bytes at start, naming the setting', () => {
    expect(() => resolveConfig(configFromEnv({ SKILLGATE_MASKING_KEY: 'too-short-key' }))).toThrow(/maskingKey: must be at least 16 bytes \(SKILLGATE_MASKING_KEY/);
    expect(resolveConfig(configFromEnv({ SKILLGATE_MASKING_KEY: 'a-long-enough-installation-key' })).maskingKey).toBe('a-long-enough-installation-key');
  });
});

describe('the batch limit', () => {
  it('is what the heap can inspect: a sixteenth of its limit, at most the API\'s 256 MB', () => {
    const MiB = 1024 * 1024;
    expect(inspectableBatchBytes(355 * MiB)).toBe(22 * MiB); // the chart's default 512Mi
    expect(inspectableBatchBytes(4288 * MiB)).toBe(256 * MiB); // Node's own default on a big machine
    expect(resolveConfig({}).limits.batchBodyBytes).toBe(inspectableBatchBytes());
    expect(resolveConfig({ limits: { batchBodyBytes: 5 * MiB } }).limits.batchBodyBytes).toBe(5 * MiB);
  });
});
