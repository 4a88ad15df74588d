import { classifyRoute, pathProblem } from '../src/routes.js';

describe('pathProblem', () => {
  it.each([
    '/v1/messages', '/v1/messages/count_tokens', '/v1/messages/batches/msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d/results',
    '/v1/files/file_011CNha8iCJcU1wXNR6q4V8w/content', '/v1/models/claude-sonnet-4-6', '/v1/skills/skill_01AbC/versions/skillver_01XyZ',
    '/v1/organizations/usage_report', '/',
  ])('lets the plain path %s through', (path) => {
    expect(pathProblem(path)).toBeUndefined();
  });

  it.each([
    ['/v1/x/../messages', /"\." or "\.\." segment/],
    ['/v1/./messages', /"\." or "\.\." segment/],
    ['/v1/messages/..', /"\." or "\.\." segment/],
    ['/v1/%6Dessages', /percent-encoding/],
    ['/v1/messages%2F..', /percent-encoding/],
    ['/v1\\messages', /percent-encoding or characters/],
    ['/v1/messages;x=1', /percent-encoding or characters/],
    ['/v1//messages', /empty segment/],
    ['/v1/messages/', /ends in a slash/],
  ])('refuses %s', (path, why) => {
    expect(pathProblem(path)).toMatch(why);
  });

  it('judges the path classifyRoute routes by, the query string apart', () => {
    expect(classifyRoute('POST', '/v1/messages?beta=true').path).toBe('/v1/messages');
    expect(pathProblem(classifyRoute('POST', '/v1/messages?q=%2F..').path)).toBeUndefined();
  });
});

describe('classifyRoute', () => {
  it('routes the Skills API by whole segments: /v1/skillsX is another /v1 path', () => {
    expect(classifyRoute('POST', '/v1/skills').kind).toBe('skill_upload');
    expect(classifyRoute('POST', '/v1/skills/skill_01/versions').kind).toBe('skill_upload');
    expect(classifyRoute('GET', '/v1/skills/skill_01').kind).toBe('skills');
    expect(classifyRoute('POST', '/v1/skillsets').kind).toBe('other_v1');
    expect(classifyRoute('GET', '/v1/messages/batches/msgbatch_1/results')).toMatchObject({ kind: 'batch_results', batchId: 'msgbatch_1' });
    expect(classifyRoute('GET', '/v1/messages/batches/msgbatch_1/results?page=2').batchId).toBe('msgbatch_1');
    expect(classifyRoute('GET', '/v1/messages/batches/a/b/results')).toMatchObject({ kind: 'batch' }); // not a batch's results
    expect(classifyRoute('GET', '/v1/messages/batches/msgbatch_1').batchId).toBeUndefined();
  });
});
