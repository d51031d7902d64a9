// Shared set-up for the session tests: a ticket for vit-fashion, real cut
// activations of 8 Fashion-MNIST images, the initial trainables, and
// step bodies built with the wire module the device uses.
import { env } from 'cloudflare:workers';
import { expect } from 'vitest';
import samples from '../../../artifacts/vit-fashion/samples.json';
import type { RpcResult } from '../../../durable-objects/rpc.js';
import type { Encoding } from '../../../protocol/encoding.js';
import type { OptimizerConfig, Ticket } from '../../../protocol/federation.js';
import { encodeFrame } from '../../../protocol/frame.js';
import { PROBLEM_TYPES, type ProblemSlug } from '../../../protocol/problem.js';
import { decodeStepAnswer, encodeStepRequest } from '../../../protocol/step.js';
import { seededModel } from '../seeded.js';

export const model = seededModel('vit-fashion');
export const training = model.manifest.training!;
export const initialTail = model.bytes(training.artifacts.trainables);
export const [BATCH, TOKENS, WIDTH] = samples.activationShape;
export const activation = Float32Array.from(samples.activation);
export const labels = samples.labels;

export const SGD: OptimizerConfig = { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0 };

let counter = 0;
/** A fresh session object: every test gets its own name, so storage never leaks between tests. */
export function freshName(prefix = 'fed-test'): string {
  counter += 1;
  return `${prefix}/0/device-${Date.now().toString(36)}-${counter}`;
}

export function sessionStub(name: string) {
  return env.SESSIONS.get(env.SESSIONS.idFromName(name));
}

export function ticketFor(deviceId: string, overrides: Partial<Ticket> = {}): Ticket {
  return {
    federationId: 'fed-test',
    deviceId,
    round: 0,
    version: 0,
    modelId: 'vit-fashion',
    cut: model.manifest.cut.id,
    uplink: 'int8',
    downlink: 'int8',
    batchSize: BATCH,
    localEpochs: 1,
    budgetBytes: 50_000_000,
    deadline: Date.now() + 3_600_000,
    headOptimizer: { kind: 'sgd', lr: 0.05, momentum: 0, weightDecay: 0 },
    ...overrides,
  };
}

/** An initialised session and its ticket. */
export async function openSession(
  overrides: Partial<Ticket> = {},
  tailOptimizer: OptimizerConfig = SGD,
  name = freshName(),
) {
  const ticket = ticketFor(name.split('/').at(-1)!, overrides);
  const stub = sessionStub(name);
  const init = await stub.init({ ticket, tailOptimizer, tail: initialTail });
  expect(init).toEqual({ ok: true, value: { seq: 0 } });
  return { stub, ticket, name };
}

/** The first `rows` samples as an activation frame. */
export function activationFrame(encoding: Encoding = 'int8', rows = BATCH, granularity?: 'tensor' | 'token') {
  const data = activation.slice(0, rows * TOKENS * WIDTH);
  return encodeFrame({ shape: [rows, TOKENS, WIDTH], data }, { encoding, granularity });
}

export function stepBody(encoding: Encoding = 'int8', rows = BATCH): Uint8Array {
  return encodeStepRequest({ activation: activationFrame(encoding, rows), labels: labels.slice(0, rows) });
}

export function expectOk<T>(result: RpcResult<T>): T {
  if (!result.ok) throw new Error(`expected ok, got ${result.problem}: ${result.detail}`);
  return result.value;
}

/** Asserts a failure with this slug and returns it; its HTTP status is the slug's. */
export function expectProblem<T>(result: RpcResult<T>, slug: ProblemSlug) {
  if (result.ok) throw new Error(`expected ${slug}, got ok`);
  expect(result.problem, result.detail).toBe(slug);
  expect(PROBLEM_TYPES[result.problem]).toBeLessThan(500);
  return result;
}

export function lossOf(answer: Uint8Array): number {
  return decodeStepAnswer(answer).loss;
}
