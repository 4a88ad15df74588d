import { webhookConfigurations } from '../src/manifests.js';

describe('webhookConfigurations', () => {
  const { mutating, validating } = webhookConfigurations({ endpoint: { url: 'https://127.0.0.1:9443/' }, caPem: 'PEM', systemNamespace: 'skillgate-system' });
  const mw = (mutating.webhooks as Array<Record<string, any>>)[0]!;
  const vws = validating.webhooks as Array<Record<string, any>>;

  test('injection fails closed, only in labelled namespaces, never in kube-system or skillgate\'s own namespace', () => {
    expect(mw.failurePolicy).toBe('Fail');
    expect(mw.sideEffects).toBe('None');
    expect(mw.admissionReviewVersions).toEqual(['v1']);
    expect(mw.namespaceSelector.matchExpressions).toEqual([
      { key: 'skillgate.dev/inject', operator: 'In', values: ['enabled'] },
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-public', 'kube-node-lease', 'skillgate-system'] },
    ]);
    expect(mw.rules).toEqual([{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }]);
  });

  test('URL endpoints get the path appended and the CA as base64', () => {
    expect(mw.clientConfig).toEqual({ url: 'https://127.0.0.1:9443/mutate', caBundle: Buffer.from('PEM').toString('base64') });
    expect(vws.map((w) => w.clientConfig.url)).toEqual(['https://127.0.0.1:9443/validate-pod', 'https://127.0.0.1:9443/validate-skillpolicy', 'https://127.0.0.1:9443/validate-skillapproval-status']);
  });

  test('pod validation also covers kubectl debug, and SkillPolicy validation covers every namespace', () => {
    expect(vws[0]!.rules[1].resources).toEqual(['pods/ephemeralcontainers']);
    expect(vws[1]!.namespaceSelector).toBeUndefined();
    expect(vws.every((w) => w.failurePolicy === 'Fail')).toBe(true);
  });

  test('a Service endpoint is addressed by namespace, name, port and path', () => {
    const m = webhookConfigurations({ endpoint: { service: { namespace: 'skillgate-system', name: 'skillgate-webhook' } }, systemNamespace: 'skillgate-system' }).mutating;
    expect((m.webhooks as Array<Record<string, any>>)[0]!.clientConfig).toEqual({ service: { namespace: 'skillgate-system', name: 'skillgate-webhook', port: 443, path: '/mutate' } });
  });
});
