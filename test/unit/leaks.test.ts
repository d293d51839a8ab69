// The leak scan every end-to-end scenario goes through must find what it is meant to find.
import { describe, expect, it } from 'vitest';
import { findLeaks, type ActionRun } from '../support/action.js';

const run = (over: Partial<ActionRun>): ActionRun => ({ exitCode: 0, signal: null, stdout: '', stderr: '', outputs: {}, summary: '', results: [], ...over });

describe('findLeaks', () => {
  it('finds a secret anywhere it could leak to, and any presigned signature', () => {
    expect(findLeaks(run({ stdout: 'token ak_live_secret123 used' }), ['ak_live_secret123'])).toHaveLength(1);
    expect(findLeaks(run({ stderr: 'x', summary: '<td>ak_live_secret123</td>' }), ['ak_live_secret123'])).toHaveLength(1);
    expect(findLeaks(run({ outputs: { results: '[{"url":"https://s3/b/k?X-Amz-Signature=abcdef0123"}]' } }), [])).toHaveLength(1);
    expect(findLeaks(run({ stdout: 'https://acct.blob/c/b?sv=2024&sig=AbC%2Bd' }), [])).toHaveLength(1);
  });
  it('ignores the runner mask commands and already-masked values', () => {
    expect(findLeaks(run({ stdout: '::add-mask::ak_live_secret123\n::add-mask::X-Amz-Signature=abc' }), ['ak_live_secret123'])).toEqual([]);
    expect(findLeaks(run({ summary: 'X-Amz-Signature=***' }), [])).toEqual([]);
  });
});
