// How API failures read in logs and CLI errors (describeApiError): the API's own message for an HTTP
// error, and for a failure to reach the API at all what fetch() keeps in its cause (refused, no such
// host, a certificate), not its bare "fetch failed".
import { ApiException } from '@kubernetes/client-node';
import { describeApiError } from '../src/kube.js';

describe('describeApiError', () => {
  test('names the HTTP status and the API\'s message', () => {
    expect(describeApiError(new ApiException(403, 'Forbidden', JSON.stringify({ message: 'skilllocks is forbidden' }), {}))).toBe('HTTP 403: skilllocks is forbidden');
  });

  test('names why a connection failed, from the error\'s cause', async () => {
    // Port 2: nothing listens there, and fetch does not block it (as it does port 1).
    const refused = await fetch('http://127.0.0.1:2/').catch((err: unknown) => err);
    expect(describeApiError(refused)).toBe('fetch failed (ECONNREFUSED)');
    expect(describeApiError(new Error('fetch failed', { cause: { message: 'self-signed certificate' } }))).toBe('fetch failed (self-signed certificate)');
    expect(describeApiError(new Error('plain'))).toBe('plain');
  });
});
