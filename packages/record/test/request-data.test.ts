// The request event's data: what the record keeps of a request. A credential in a body (an MCP
// server's authorization_token) never reaches the record, in a Messages request or in any request
// of a Message Batch.
import { requestData, scrubRequestBody } from '../src/index.js';

const server = (token: string) => ({ type: 'url', url: 'https://mcp.example/sse', name: 'm', authorization_token: token });

describe('scrubRequestBody', () => {
  test('removes MCP server tokens from a Messages request', () => {
    const body = JSON.stringify({ model: 'm', messages: [], mcp_servers: [server('oauth-SECRET-1')] });
    const out = scrubRequestBody(body);
    expect(out).not.toContain('oauth-SECRET-1');
    expect(JSON.parse(out).mcp_servers[0].authorization_token).toBe('[credential removed]');
  });

  test('removes them from every request of a Message Batch', () => {
    const body = JSON.stringify({ requests: [
      { custom_id: 'a', params: { model: 'm', messages: [], mcp_servers: [server('oauth-SECRET-2')] } },
      { custom_id: 'b', params: { model: 'm', messages: [] } },
      { custom_id: 'c', params: { model: 'm', messages: [], mcp_servers: [server('oauth-SECRET-3'), { name: 'open' }] } },
    ] });
    const out = scrubRequestBody(body);
    expect(out).not.toMatch(/oauth-SECRET/);
    const parsed = JSON.parse(out);
    expect(parsed.requests[0].params.mcp_servers[0].authorization_token).toBe('[credential removed]');
    expect(parsed.requests[2].params.mcp_servers[1]).toEqual({ name: 'open' });
  });

  test('leaves a body without a token byte for byte as it was', () => {
    const body = '{ "model": "m",  "messages": [], "note": "authorization_token is a field name" }';
    expect(scrubRequestBody(body)).toBe(body);
  });

  test('requestData records the scrubbed body', () => {
    const body = JSON.stringify({ requests: [{ custom_id: 'a', params: { model: 'm', messages: [], mcp_servers: [server('oauth-SECRET-4')] } }] });
    const data = requestData({ method: 'POST', url: '/v1/messages/batches', headers: {}, forwarded: Buffer.from(body), maskedBody: body });
    expect(data.body).not.toContain('oauth-SECRET-4');
  });
});
