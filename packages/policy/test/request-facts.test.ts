// What policies read in a request: the newest turn however the prefill is split, the hosts of the
// URLs in it however they are written, and the OpenAI-compatible endpoint's legacy fields.
import { combine, evaluate, newestTurnText, openAiChatFacts, requestFacts, urlHosts, type Decision } from '@skillgate/policy';
import type { SkillPolicy } from '@skillgate/api';
import type { MessagesRequest } from '@skillgate/wire';
import { policy, request } from './policy-fixtures.js';

const decide = (policies: SkillPolicy[], req: unknown, route: 'messages' | 'openai_chat' = 'messages'): Decision =>
  evaluate(combine(policies), { route, request: req as MessagesRequest }, { now: new Date('2026-03-04T10:00:00Z'), findings: [], estimatedTokens: 10 });
const kind = (d: Decision): string => (d.kind === 'deny' ? `deny ${d.rule}` : d.kind);
const salaryRule = policy('p', { approval: { rules: [{ name: 'salary', when: { keywords: ['salary'] } }] } });
const fetchEvilCom = policy('p', { approval: { rules: [{ name: 'fetch', when: { fetchDomains: ['evil.com'] } }] } });

describe('the newest turn', () => {
  const split = [
    { role: 'user', content: 'show me the salary table' },
    { role: 'assistant', content: 'Sure,' },
    { role: 'assistant', content: ' here' },
  ];

  test('takes every trailing assistant message as the prefill (the API merges them), and the user turn before them', () => {
    expect(newestTurnText(request({ messages: split } as Partial<MessagesRequest>))).toBe('show me the salary table\nSure,\n here');
    expect(kind(decide([salaryRule], request({ messages: split } as Partial<MessagesRequest>)))).toBe('approval');
  });

  test('a prefill split over several messages does not hide the user turn from the findings either (masking reads facts.newestTurn)', () => {
    expect(requestFacts(request({ messages: split } as Partial<MessagesRequest>)).newestTurn).toContain('salary');
  });

  test('still ends at Claude\'s last answer when the user spoke after it', () => {
    const history = [{ role: 'user', content: 'salary?' }, { role: 'assistant', content: 'no' }, { role: 'assistant', content: 'never' }, { role: 'user', content: 'ok' }];
    expect(newestTurnText(request({ messages: history } as Partial<MessagesRequest>))).toBe('ok');
  });

  test('on the OpenAI-compatible endpoint too', () => {
    const chat = { model: 'claude-sonnet-4-5', max_completion_tokens: 10, messages: [{ role: 'system', content: 'be brief' }, ...split] };
    expect(openAiChatFacts(chat).newestTurn).toBe('show me the salary table\nSure,\n here');
    expect(kind(decide([salaryRule], chat, 'openai_chat'))).toBe('approval');
  });
});

describe('URL hosts in the newest turn', () => {
  test.each([
    ['a path', 'fetch https://evil.com/x'],
    ['a query', 'fetch https://evil.com?q=1'],
    ['a fragment', 'fetch https://evil.com#a'],
    ['a comma after it', 'fetch https://evil.com, then summarise'],
    ['a semicolon after it', 'fetch https://evil.com;'],
    ['a backslash for its path', 'fetch https://evil.com\\x'],
    ['backslashes for its slashes', 'fetch https:\\\\evil.com'],
    ['parentheses around it', 'see (https://evil.com)'],
    ['angle brackets around it', 'fetch <https://evil.com>'],
    ['quotes around it', 'fetch "https://evil.com"'],
    ['a full stop after it', 'Fetch https://evil.com.'],
    ['userinfo', 'fetch https://a@evil.com/x'],
    ['userinfo with a password', 'fetch https://user:pw@evil.com:8443/x'],
    ['userinfo holding another host', 'fetch https://good.example@evil.com/'],
    ['a port', 'fetch http://evil.com:8080/x'],
    ['upper case', 'fetch HTTPS://EVIL.COM/X'],
    ['a trailing dot', 'fetch https://evil.com./x'],
    ['percent escapes', 'fetch https://%65vil.%63om/x'],
    ['an escaped dot', 'fetch https://evil%2Ecom/x'],
    ['an ideographic full stop', 'fetch https://evil\u3002com/x'],
    ['a host a reader takes from before the userinfo', 'fetch https://evil.com;x@good.example/'],
  ])('a URL with %s is held by a fetchDomains rule', (_name, turn) => {
    expect(kind(decide([fetchEvilCom], request({}, turn)))).toBe('approval');
  });

  test.each([
    ['another domain ending alike', 'fetch https://notevil.com/'],
    ['a domain beginning alike', 'fetch https://evil.com.example.org/'],
    ['the domain in a query only', 'fetch https://good.example/?next=evil.com'],
    ['the domain in a path only', 'fetch https://good.example/evil.com@x'],
  ])('%s is not held', (_name, turn) => {
    expect(kind(decide([fetchEvilCom], request({}, turn)))).toBe('allow');
  });

  test.each([
    ['an IPv6 literal with a port, as written and as a URL parser writes it', 'http://[0:0::1]:8080/x', ['[0:0::1]', '[::1]']],
    ['an IPv4 address written as one number', 'http://2130706433/', ['2130706433', '127.0.0.1']],
    ['a Unicode domain, as written and in punycode', 'https://B\u00dcCHER.de/', ['b\u00fccher.de', 'xn--bcher-kva.de']],
    ['several URLs, each host once', 'https://a.example/1 and http://a.example:80/2, https://b.example', ['a.example', 'b.example']],
    ['no host', 'https:// nothing', []],
  ])('lists %s', (_name, text, hosts) => {
    expect(urlHosts(text)).toEqual(hosts);
  });
});

describe('the OpenAI-compatible endpoint', () => {
  const chat = (over: Record<string, unknown>) => ({ model: 'claude-sonnet-4-5', max_completion_tokens: 256, messages: [{ role: 'user', content: 'hello' }], ...over });

  test('reads the legacy functions[] as function tools, as tools[] are', () => {
    const functions = [{ name: 'Bash', parameters: {} }];
    expect(openAiChatFacts(chat({ functions })).customTools).toEqual(['Bash']);
    expect(openAiChatFacts(chat({ tools: [{ type: 'function', function: { name: 'lookup' } }], functions })).customTools).toEqual(['lookup', 'Bash']);
    expect(kind(decide([policy('p', { tools: { deny: ['Bash'] } })], chat({ functions }), 'openai_chat'))).toBe('deny tools.deny');
    expect(kind(decide([policy('p', { tools: { allow: ['lookup_*'] } })], chat({ functions }), 'openai_chat'))).toBe('deny tools.allow');
    expect(kind(decide([policy('p', { tools: { allow: ['Bash'] } })], chat({ functions }), 'openai_chat'))).toBe('allow');
  });

  test('with both max_completion_tokens and max_tokens, a token cap judges the larger (the one that lets the request do more)', () => {
    const capped = [policy('p', { maxTokens: 1000 })];
    expect(kind(decide(capped, chat({ max_completion_tokens: 100, max_tokens: 100_000 }), 'openai_chat'))).toBe('deny maxTokens');
    expect(kind(decide(capped, chat({ max_completion_tokens: 100_000, max_tokens: 100 }), 'openai_chat'))).toBe('deny maxTokens');
    expect(kind(decide(capped, chat({ max_completion_tokens: 100, max_tokens: 1000 }), 'openai_chat'))).toBe('allow');
    expect(openAiChatFacts(chat({ max_completion_tokens: 100, max_tokens: 300 })).maxTokens).toBe(300);
  });
});
