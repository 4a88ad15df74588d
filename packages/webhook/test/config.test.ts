import { createCertificateAuthority } from '../src/dev-cert.js';
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

  test('inline CSI drivers are allowed only when named (none by default)', () => {
    expect(defaultWebhookConfig().allowedCsiDrivers).toEqual([]);
    expect(parseWebhookConfig({ allowedCsiDrivers: ['secrets-store.csi.k8s.io'] }).allowedCsiDrivers).toEqual(['secrets-store.csi.k8s.io']);
  });

  test('a quantity given as a bare number (cpu: 2 in a values file, as Helm renders it) is read as Kubernetes reads it', () => {
    const c = parseWebhookConfig({ sidecarResources: { requests: { cpu: 0.5 }, limits: { cpu: 2, memory: '256Mi' } } });
    expect(c.sidecarResources).toEqual({ requests: { cpu: '0.5' }, limits: { cpu: '2', memory: '256Mi' } });
    expect(() => parseWebhookConfig({ sidecarResources: { limits: { cpu: -1 } } })).toThrow(/"-1" is not a Kubernetes quantity/);
  });

  test.each([
    [{ sidecarUid: 0 }, /sidecarUid: must be an integer from 1/],
    [{ controllerUrl: 'controller:8443' }, /controllerUrl: must be an http\(s\) URL/],
    [{ sidecarResources: { limits: { memory: 'lots' } } }, /sidecarResources\.limits\.memory: "lots" is not a Kubernetes quantity/],
    [{ allowedExceptions: [{}] }, /allowedExceptions\[0\]\.name/],
    [{ sidecarImag: 'typo' }, /sidecarImag: unknown field/],
    [{ redisUrl: 'localhost:6379' }, /redisUrl: must be a redis:\/\//],
    [{ excludeOutboundPorts: [5432, 53] }, /excludeOutboundPorts: cannot exclude port 53: DNS .* goes through the sidecar's DNS guard/],
    [{ allowedCsiDrivers: 'secrets-store.csi.k8s.io' }, /allowedCsiDrivers: must be a list of non-empty strings/],
  ])('a bad field fails fast naming the field: %j', (input, message) => {
    expect(() => parseWebhookConfig(input)).toThrow(message);
  });

  describe('controllerCaPem', () => {
    const ca = createCertificateAuthority('controller-ca-1');
    const other = createCertificateAuthority('controller-ca-2');

    test('is empty by default: the sidecar trusts the system CAs', () => {
      expect(defaultWebhookConfig().controllerCaPem).toBe('');
    });

    test('a CA bundle (one or more certificates, any surrounding blank lines or CRLF) becomes canonical newline-terminated PEM', () => {
      const one = parseWebhookConfig({ controllerCaPem: `\n${ca.certPem}` }).controllerCaPem;
      expect(one).toBe(`${ca.certPem.trim()}\n`);
      const two = parseWebhookConfig({ controllerCaPem: `${ca.certPem.replace(/\n/g, '\r\n')}\n\n${other.certPem}` }).controllerCaPem;
      expect(two).toBe(`${ca.certPem.trim()}\n${other.certPem.trim()}\n`);
      // Parsing its own output gives the same text: re-injection sees no difference.
      expect(parseWebhookConfig({ controllerCaPem: two }).controllerCaPem).toBe(two);
    });

    test.each([
      ['text that is not PEM', () => 'not a certificate', /controllerCaPem: must be PEM text/],
      ['a certificate block that does not parse', () => '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', /controllerCaPem: certificate 1 does not parse/],
      ['a private key next to the certificate', () => `${ca.certPem}${ca.keyPem}`, /controllerCaPem: holds something besides CERTIFICATE blocks/],
    ])('is refused at start when it is %s', (_what, value, message) => {
      expect(() => parseWebhookConfig({ controllerUrl: 'https://c.example:8443', controllerCaPem: value() })).toThrow(message);
    });

    test('is refused with a plain-HTTP controllerUrl, where no certificate is ever checked', () => {
      expect(() => parseWebhookConfig({ controllerUrl: 'http://c.example:8443', controllerCaPem: ca.certPem })).toThrow(/controllerCaPem: is set but controllerUrl is not https/);
      expect(parseWebhookConfig({ controllerUrl: 'https://c.example:8443', controllerCaFile: '/etc/skillgate/webhook-tls/ca.crt' }).controllerCaFile).toBe('/etc/skillgate/webhook-tls/ca.crt');
      expect(() => parseWebhookConfig({ controllerUrl: 'https://c.example:8443', controllerCaFile: '/x/ca.crt', controllerCaPem: ca.certPem })).toThrow(/controllerCaFile: give the controller's CA as controllerCaPem or as controllerCaFile, not both/);
      expect(() => parseWebhookConfig({ controllerUrl: 'http://c.example:8443', controllerCaFile: '/x/ca.crt' })).toThrow(/controllerCaFile: is set but controllerUrl is not https/);
    });
  });
});
