import { describe, expect, it } from 'vitest';
import { endpoints } from '../../../client-sdk/endpoints.js';
import { AbortError, TimeoutError } from '../../../client-sdk/errors.js';
import {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  parseRetryAfter,
} from '../../../client-sdk/transport/backoff.js';
import { readProblem } from '../../../client-sdk/transport/problem-body.js';
import { deadline, raceDeadline, sleep } from '../../../client-sdk/transport/signals.js';

describe('backoff', () => {
  it('grows exponentially up to the cap, scaled by the jitter draw', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.999999 };
    expect([0, 1, 2, 3, 4, 10].map((r) => backoffDelay(r, policy))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelay(3, { ...policy, random: () => 0 })).toBe(0);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 7 ', now)).toBe(7000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('readProblem', () => {
  it('reads problem+json and trusts the HTTP status over the body', async () => {
    const res = new Response(
      JSON.stringify({
        type: 'urn:splitflare:problem:conflict',
        title: 'Conflict',
        status: 200,
        detail: 'x',
        round: 3,
      }),
      { status: 409, headers: { 'content-type': 'application/problem+json' } },
    );
    expect(await readProblem(res)).toEqual({
      type: 'urn:splitflare:problem:conflict',
      title: 'Conflict',
      status: 409,
      detail: 'x',
      round: 3,
    });
  });

  it('falls back to about:blank for a non-problem body, keeping a bounded detail', async () => {
    const html = `<html>${'x'.repeat(2000)}</html>`;
    const res = new Response(html, {
      status: 502,
      statusText: 'Bad Gateway',
      headers: { 'content-type': 'text/html' },
    });
    const problem = await readProblem(res);
    expect(problem).toMatchObject({ type: 'about:blank', title: 'Bad Gateway', status: 502 });
    expect(problem.detail?.length).toBe(500);
  });
});

describe('deadline', () => {
  it('tells a timeout from a caller abort', async () => {
    const timedOut = deadline(20, []);
    await expect(sleep(10_000, timedOut)).rejects.toBeInstanceOf(TimeoutError);

    const controller = new AbortController();
    const aborted = deadline(10_000, [controller.signal]);
    const pending = sleep(10_000, aborted);
    controller.abort('bye');
    const error = await pending.catch((e) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect(error.cause).toBe('bye');
  });

  it('lets a waiter give up on shared work without cancelling it', async () => {
    let finish!: (v: number) => void;
    const work = new Promise<number>((resolve) => {
      finish = resolve;
    });
    const controller = new AbortController();
    const impatient = raceDeadline(work, deadline(undefined, [controller.signal]));
    const patient = raceDeadline(work, deadline(undefined, []));
    controller.abort();
    await expect(impatient).rejects.toBeInstanceOf(AbortError);
    finish(42);
    await expect(patient).resolves.toBe(42);
  });
});

describe('endpoints', () => {
  it('keeps a path prefix and escapes the model id', () => {
    expect(endpoints('https://x.dev/api', 'vit/b').infer).toBe('https://x.dev/api/v1/models/vit%2Fb/infer');
    expect(endpoints('https://x.dev/', 'm').manifest).toBe('https://x.dev/v1/models/m/manifest');
    expect(endpoints('https://x.dev', 'm').head).toBe('https://x.dev/v1/models/m/head');
  });
});
