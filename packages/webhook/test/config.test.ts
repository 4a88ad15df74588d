import { defaultWebhookConfig, parseWebhookConfig } from '../src/config.js';

describe('parseWebhookConfig', () => {
  test('no config means the defaults', () => {
    expect(parseWebhookConfig(undefined)).toEqual(defaultWebhookConfig());
  });

  test('given fields override the defaults and the rest keep theirs', () => {
    const c = parseWebhookConfig({ sidecarImage: 'r.example/skillgate:2', allowedExceptions: [{ name: 'db', serviceAccounts: ['pg'] }] });
    expect(c.sidecarImage).toBe('r.example/skillgate:2');
    expect(c.allowedExceptions).toEqual([{ name: 'db', serviceAccounts: ['pg'] }]);
    expect(c.sidecarUid).toBe(1337);
  });

  test.each([
    [{ sidecarUid: 0 }, /sidecarUid: must be an integer from 1/],
    [{ controllerUrl: 'controller:8443' }, /controllerUrl: must be an http\(s\) URL/],
    [{ sidecarResources: { limits: { memory: 'lots' } } }, /sidecarResources\.limits\.memory: "lots" is not a Kubernetes quantity/],
    [{ allowedExceptions: [{}] }, /allowedExceptions\[0\]\.name/],
    [{ sidecarImag: 'typo' }, /sidecarImag: unknown field/],
    [{ redisUrl: 'localhost:6379' }, /redisUrl: must be a redis:\/\//],
  ])('a bad field fails fast naming the field: %j', (input, message) => {
    expect(() => parseWebhookConfig(input)).toThrow(message);
  });
});
