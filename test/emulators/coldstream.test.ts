import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BUSY_TEXT, ColdstreamEmulator, type JobAnswerShape } from './coldstream.js';

let cs: ColdstreamEmulator;
let base: string;

beforeEach(async () => {
  cs = new ColdstreamEmulator({ cases: { '1001': ['2001'], '1002': [] } });
  base = await cs.start();
});
afterEach(async () => {
  await cs.close();
});

const auth = () => ({ authorization: `Bearer ${cs.token}`, 'content-type': 'application/json' });

async function post(path: string, body: unknown, headers: Record<string, string> = auth()) {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as Record<string, any> };
}

async function createAndUpload(fileName: string, bytes: Buffer, caseComponentId: number | string = 2001, caseId = '1001') {
  const rec = await post(`/cases/${caseId}/files`, { fileName, fileSize: bytes.length, caseComponentId });
  expect(rec.status).toBe(200);
  const answer = rec.json();
  const put = await fetch(answer['preSignedUrl'], { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  expect(put.status).toBe(200);
  return answer;
}

describe('file records', () => {
  it('answers id, preSignedUrl and fileUrl; the URL takes octet-stream without Authorization only', async () => {
    const rec = await post('/cases/1001/files', { fileName: 'fin.step', fileSize: 5, caseComponentId: 2001 });
    expect(rec.status).toBe(200);
    const { id, preSignedUrl, fileUrl } = rec.json();
    expect(typeof id).toBe('number');
    expect(preSignedUrl).toContain('X-Amz-Signature=');
    expect(fileUrl).not.toContain('X-Amz-');

    const withToken = await fetch(preSignedUrl, { method: 'PUT', headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${cs.token}` }, body: 'hello' });
    expect(withToken.status).toBe(400);
    expect(await withToken.text()).toContain('InvalidArgument');
    const wrongType = await fetch(preSignedUrl, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: 'hello' });
    expect(wrongType.status).toBe(403);
    expect(cs.uploaded(cs.files[0]!)).toBe(false);

    const ok = await fetch(preSignedUrl, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: 'hello' });
    expect(ok.status).toBe(200);
    expect(cs.uploaded(cs.files[0]!)).toBe(true);
  });

  it('takes the case id as caseComponentId for a whole-case file, and the SDK content type', async () => {
    const rec = await post('/cases/1001/files', { fileName: 'all.step', fileSize: 5, caseComponentId: 1001 }, { ...auth(), 'content-type': 'application/*+json' });
    expect(rec.status).toBe(200);
    expect(cs.files[0]!.caseComponentId).toBe(1001);
  });

  it('refuses a missing token, a wrong content type, unknown cases and components, and a missing caseComponentId', async () => {
    expect((await post('/cases/1001/files', { fileName: 'a.step', fileSize: 1, caseComponentId: 2001 }, { 'content-type': 'application/json' })).status).toBe(401);
    expect((await post('/cases/1001/files', { fileName: 'a.step', fileSize: 1, caseComponentId: 2001 }, { ...auth(), 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post('/cases/9999/files', { fileName: 'a.step', fileSize: 1, caseComponentId: 2001 })).status).toBe(404);
    expect((await post('/cases/1001/files', { fileName: 'a.step', fileSize: 1, caseComponentId: 3333 })).status).toBe(404);
    expect((await post('/cases/1001/files', { fileName: 'a.step', fileSize: 1 })).status).toBe(400);
    expect((await post('/cases/1001/files', { fileName: 'a.step', fileSize: 0, caseComponentId: 2001 })).status).toBe(400);
    expect(cs.files).toHaveLength(0);
  });

  it('answers 429 with Retry-After when told to, then serves again', async () => {
    cs.rateLimit(1, { retryAfterSec: 2 });
    const res = await fetch(`${base}/cases/1001/files`, { method: 'POST', headers: auth(), body: JSON.stringify({ fileName: 'a.step', fileSize: 1, caseComponentId: 2001 }) });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('2');
    expect((await post('/cases/1001/files', { fileName: 'a.step', fileSize: 1, caseComponentId: 2001 })).status).toBe(200);
    expect(cs.files).toHaveLength(1);
  });
});

describe('jobs', () => {
  it('converts an uploaded STEP file and answers the job id', async () => {
    const file = await createAndUpload('fin.step', Buffer.from('ISO-10303-21;'));
    const job = await post('/jobs/convert', { caseId: 1001, fileId: file['id'], fileURL: file['fileUrl'] });
    expect(job.status).toBe(200);
    expect(job.json()).toMatchObject({ type: 'convert', fileId: file['id'], status: 'Created' });
    expect(cs.jobs).toHaveLength(1);
    expect(cs.jobs[0]!.id).toBe(job.json()['id']);
  });

  it('answers an accepted job in the shape and status it is told to; the job is accepted whatever the shape', async () => {
    const cases: [JobAnswerShape, number, (text: string, job: { id: string }) => void][] = [
      ['numeric-id', 200, (t, j) => expect(JSON.parse(t)).toMatchObject({ id: Number(j.id), status: 'Created' })],
      ['jobId', 201, (t, j) => expect(JSON.parse(t)).toEqual({ jobId: j.id, status: 'Created' })],
      ['job_id-number', 200, (t, j) => expect(JSON.parse(t)).toEqual({ job_id: Number(j.id) })],
      ['nested', 200, (t, j) => expect(JSON.parse(t)).toEqual({ job: { id: j.id, status: 'Created' } })],
      ['no-id', 200, (t) => expect(JSON.parse(t)).not.toHaveProperty('id')],
      ['empty-object', 200, (t) => expect(t).toBe('{}')],
      ['empty-body', 202, (t) => expect(t).toBe('')],
      ['text', 200, (t) => expect(t).toBe('Job queued')],
      ['full', 204, (t) => expect(t).toBe('')],
    ];
    for (const [shape, status, check] of cases) {
      cs.jobAnswer = shape;
      cs.jobAnswerStatus = status;
      const file = await createAndUpload(`${shape}.step`, Buffer.from('ISO-10303-21;'));
      const res = await post('/jobs/convert', { caseId: 1001, fileId: file['id'], fileURL: file['fileUrl'] });
      expect(res.status, shape).toBe(status);
      const job = cs.jobs.at(-1)!;
      expect(job.fileId, shape).toBe(file['id']);
      check(res.text, job);
      expect(job.answeredId, shape).toBe(['no-id', 'empty-object', 'empty-body', 'text'].includes(shape) || status === 204 ? undefined : job.id);
    }
    expect(cs.jobs).toHaveLength(cases.length);
  });

  it('refuses a file that was not uploaded, a wrong fileURL, an STL file and an unknown file', async () => {
    const rec = (await post('/cases/1001/files', { fileName: 'fin.step', fileSize: 5, caseComponentId: 2001 })).json();
    const notUploaded = await post('/jobs/initialize', { caseId: 1001, fileId: rec['id'], fileURL: rec['fileUrl'] });
    expect(notUploaded.status).toBe(400);
    expect(notUploaded.text).toContain('has not been uploaded');
    const stl = await createAndUpload('fin.stl', Buffer.from('solid x'));
    expect((await post('/jobs/convert', { caseId: 1001, fileId: stl['id'], fileURL: stl['fileUrl'] })).status).toBe(400);
    expect((await post('/jobs/convert', { caseId: 1001, fileId: stl['id'], fileURL: 'https://elsewhere/x' })).status).toBe(400);
    expect((await post('/jobs/convert', { caseId: 1001, fileId: 424242, fileURL: stl['fileUrl'] })).status).toBe(404);
    expect((await post('/jobs/convert', { caseId: 1002, fileId: stl['id'], fileURL: stl['fileUrl'] })).status).toBe(404);
    expect(cs.jobs).toHaveLength(0);
  });

  it('answers "Job already runs for case" while a job of the same case runs, not for another case', async () => {
    // Long enough that the busy answer below comes while the first job runs, however busy the machine.
    cs.jobDurationMs = 1_500;
    cs.addCase('1003', []);
    const a = await createAndUpload('a.step', Buffer.from('ISO-10303-21; a'));
    const b = await createAndUpload('b.step', Buffer.from('ISO-10303-21; b'));
    expect((await post('/jobs/convert', { caseId: 1001, fileId: a['id'], fileURL: a['fileUrl'] })).status).toBe(200);
    const busy = await post('/jobs/convert', { caseId: '1001', fileId: b['id'], fileURL: b['fileUrl'] });
    expect(busy.status).toBe(400);
    expect(busy.text).toContain(BUSY_TEXT);
    const other = await createAndUpload('c.step', Buffer.from('ISO-10303-21; c'), 1003, '1003');
    expect((await post('/jobs/initialize', { caseId: 1003, fileId: other['id'], fileURL: other['fileUrl'] })).status).toBe(200);
    // Then wait for the job's end (its own record says when), not a fixed time.
    const first = cs.jobs[0]!;
    while (Date.now() <= first.endsAt) await new Promise((r) => setTimeout(r, Math.max(1, first.endsAt - Date.now() + 1)));
    expect((await post('/jobs/convert', { caseId: 1001, fileId: b['id'], fileURL: b['fileUrl'] })).status).toBe(200);
    expect(cs.jobRequests.map((r) => r.outcome)).toEqual(['started', 'busy', 'started', 'started']);
  });

  it('answers busy N times when told to, with the configured status', async () => {
    cs.busyStatus = 409;
    cs.answerBusy(2);
    const a = await createAndUpload('a.step', Buffer.from('ISO-10303-21; a'), 1001);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await post('/jobs/initialize', { caseId: 1001, fileId: a['id'], fileURL: a['fileUrl'] })).status);
    expect(statuses).toEqual([409, 409, 200]);
  });

  it('records how many job requests of one case overlapped', async () => {
    cs.jobRequestLatencyMs = 100;
    const a = await createAndUpload('a.step', Buffer.from('ISO-10303-21; a'));
    const b = await createAndUpload('b.step', Buffer.from('ISO-10303-21; b'));
    await Promise.all([
      post('/jobs/convert', { caseId: 1001, fileId: a['id'], fileURL: a['fileUrl'] }),
      post('/jobs/convert', { caseId: 1001, fileId: b['id'], fileURL: b['fileUrl'] }),
    ]);
    expect(cs.maxConcurrentJobRequests('1001')).toBe(2);
  });
});
