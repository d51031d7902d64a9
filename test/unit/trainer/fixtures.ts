// A tiny split model and a fake federation server for the trainer tests.
// The "head" is a linear map W (2×4 pixels → 2 features per example) run by a
// stub session in plain JS; the server answers steps with a fixed loss and a
// gradient equal to the activation (so the head update is predictable), and
// records every request. Tests tweak its behaviour per step or per submit.
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FloatTensor, HeadSession, SessionFactory } from '../../../client-sdk/runtime/types.js';
import { encodeSafetensors } from '../../../common/safetensors.js';
import { SESSION_PASS_HEADER, type Ticket } from '../../../protocol/federation.js';
import { decodeFrame, encodeFrame } from '../../../protocol/frame.js';
import type { Manifest } from '../../../protocol/manifest.js';
import { PROBLEM_CONTENT_TYPE, type ProblemSlug, problemType } from '../../../protocol/problem.js';
import { decodeStepRequest, encodeStepAnswer } from '../../../protocol/step.js';
import { decodeUpdate, type UpdateMetadata } from '../../../protocol/update.js';
import type { RecordedRequest, TestServer } from '../client-sdk/fixtures/http-server.js';

export const MODEL_ID = 'tiny-train';
export const FED = 'fed-test';
export const PIXELS = 4; // 1×2×2
export const FEATURES = 2;
export const CLASSES = 3;

const FORWARD = new TextEncoder().encode('stub:head_forward');
const BACKWARD = new TextEncoder().encode('stub:head_backward');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const artifact = (file: string, bytes: Uint8Array, parameters = 8) => ({
  file,
  sha256: sha(bytes),
  bytes: bytes.byteLength,
  parameters,
});

export const W0 = Float32Array.from({ length: PIXELS * FEATURES }, (_, i) => (i - 3) / 10);

export const manifest: Manifest = {
  schema: 'splitflare.manifest/2',
  modelId: MODEL_ID,
  source: 'test',
  opset: 17,
  input: { name: 'pixels', shape: ['batch', 1, 2, 2], dtype: 'float32' },
  output: { name: 'logits', shape: ['batch', CLASSES], dtype: 'float32' },
  cut: { id: 'embed', tensor: { name: 'embed', shape: ['batch', FEATURES], dtype: 'float32' } },
  artifacts: { head: artifact('head.onnx', FORWARD), tail: artifact('tail.onnx', BACKWARD) },
  wire: { encodings: ['fp32', 'int8'], granularities: ['tensor', 'token'], maxBatch: 64 },
  pipeline: {
    budgetMiB: 96,
    microBatch: 64,
    gradInput: 'grad_in.output',
    shards: [
      {
        index: 0,
        blocks: [],
        input: { name: 'embed', shape: ['batch', FEATURES], dtype: 'float32' },
        output: { name: 'logits', shape: ['batch', CLASSES], dtype: 'float32' },
        forward: artifact('shard0_forward.onnx', BACKWARD),
        backward: artifact('shard0_backward.onnx', BACKWARD),
        trainables: ['tail.w'],
        plannedMiB: 20,
      },
    ],
  },
  weights: { bits: 32 },
  training: {
    loss: 'cross-entropy',
    labels: { name: 'labels', shape: ['batch'], dtype: 'int64' },
    artifacts: {
      headForward: artifact('head_forward.onnx', FORWARD),
      headBackward: artifact('head_backward.onnx', BACKWARD),
      tailTrain: artifact('tail_train.onnx', BACKWARD),
      tailInfer: artifact('tail_infer.onnx', BACKWARD),
      trainables: artifact('trainables.safetensors', BACKWARD),
    },
    cutGradInput: 'grad_in.embed',
    trainables: [
      { name: 'w', shape: [PIXELS, FEATURES], owner: 'head', role: 'full', base: 'w' },
      { name: 'tail.w', shape: [FEATURES, CLASSES], owner: 'tail', role: 'full', base: 'tail.w' },
    ],
    lora: { rank: 1, alpha: 1, seed: 0, targets: [], full: ['w'] },
  },
};

/** The stub runtime: forward is pixels·W, backward is pixelsᵀ·dL/d(embed). */
export const stubSessionFactory: SessionFactory = async (model) => {
  const kind = new TextDecoder().decode(model);
  const matmul = (pixels: Float32Array, w: Float32Array, batch: number) => {
    const out = new Float32Array(batch * FEATURES);
    for (let b = 0; b < batch; b++)
      for (let j = 0; j < FEATURES; j++)
        for (let k = 0; k < PIXELS; k++)
          out[b * FEATURES + j] += pixels[b * PIXELS + k] * w[k * FEATURES + j];
    return out;
  };
  const session: HeadSession = {
    inputNames: kind.endsWith('forward') ? ['pixels', 'w'] : ['pixels', 'w', 'grad_in.embed'],
    outputNames: kind.endsWith('forward') ? ['embed'] : ['embed', 'grad.w'],
    async run(feeds): Promise<Record<string, FloatTensor>> {
      const batch = feeds.pixels.dims[0];
      const embed = { data: matmul(feeds.pixels.data, feeds.w.data, batch), dims: [batch, FEATURES] };
      if (kind.endsWith('forward')) return { embed };
      const g = feeds['grad_in.embed'].data;
      const grad = new Float32Array(PIXELS * FEATURES);
      for (let b = 0; b < batch; b++)
        for (let k = 0; k < PIXELS; k++)
          for (let j = 0; j < FEATURES; j++)
            grad[k * FEATURES + j] += feeds.pixels.data[b * PIXELS + k] * g[b * FEATURES + j];
      return { embed, 'grad.w': { data: grad, dims: [PIXELS, FEATURES] } };
    },
    async release() {},
  };
  return session;
};

export function dataset(size: number) {
  return {
    pixels: Float32Array.from({ length: size * PIXELS }, (_, i) => ((i * 7) % 5) / 5 - 0.4),
    labels: Int32Array.from({ length: size }, (_, i) => i % CLASSES),
    size,
  };
}

export function ticket(overrides: Partial<Ticket> = {}): Ticket {
  return {
    federationId: FED,
    deviceId: 'dev-1',
    round: 3,
    version: 2,
    modelId: MODEL_ID,
    cut: 'embed',
    uplink: 'fp32',
    downlink: 'fp32',
    batchSize: 4,
    localEpochs: 1,
    budgetBytes: 1_000_000,
    deadline: Date.now() + 600_000,
    headOptimizer: { kind: 'sgd', lr: 0.1, momentum: 0, weightDecay: 0 },
    ...overrides,
  };
}

export function sendProblem(
  res: ServerResponse,
  slug: ProblemSlug,
  status: number,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): void {
  res
    .writeHead(status, { 'content-type': PROBLEM_CONTENT_TYPE, ...headers })
    .end(JSON.stringify({ type: problemType(slug), title: slug, status, ...extra }));
}

/** What a step handler may do instead of answering normally. */
export type StepHook = (
  seq: number,
  res: ServerResponse,
  attempt: number,
  body: Uint8Array,
) => 'answer' | 'handled' | 'apply-and-drop';

export interface FakeFederation {
  joins: number;
  /** Sequence numbers of the steps the server applied, in order. */
  applied: number[];
  /** Labels of every applied step. */
  labels: number[][];
  submits: RecordedRequest[];
  join: (res: ServerResponse) => void;
  step: StepHook;
  submit: (res: ServerResponse, attempt: number) => 'answer' | 'handled';
  budgetUsed: number;
  /** What GET .../training/headBackward serves. */
  backwardBytes: Uint8Array;
}

export const STEP_LOSS = 1.5;
/** The pass the fake join hands out; steps and submits without it are refused, as the Worker refuses them. */
export const SESSION_PASS = 'sp1.test.fake-pass';

export function fakeFederation(server: TestServer, t: Ticket = ticket()): FakeFederation {
  const fed: FakeFederation = {
    joins: 0,
    applied: [],
    labels: [],
    submits: [],
    join: (res) =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ ...t, sessionPass: SESSION_PASS })),
    step: () => 'answer',
    submit: () => 'answer',
    budgetUsed: 0,
    backwardBytes: BACKWARD,
  };
  const attempts = new Map<number, number>();
  let submitAttempts = 0;
  let nextSeq = 0;
  server.handle((req, res) => {
    const path = req.path.split('?')[0];
    if (path === `/v1/models/${MODEL_ID}/manifest`) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(manifest));
    } else if (path.endsWith('/training/headForward')) {
      res.writeHead(200).end(FORWARD);
    } else if (path.endsWith('/training/headBackward')) {
      res.writeHead(200).end(fed.backwardBytes);
    } else if (path === `/v1/federations/${FED}/join`) {
      fed.joins++;
      fed.join(res);
    } else if (path === `/v1/federations/${FED}/adapters/${t.version}`) {
      const tensors = new Map([
        ['w', { dtype: 'float32' as const, dims: [PIXELS, FEATURES], data: W0.slice() }],
      ]);
      res.writeHead(200).end(encodeSafetensors(tensors));
    } else if (path.includes('/rounds/') && req.headers[SESSION_PASS_HEADER] !== SESSION_PASS) {
      sendProblem(res, 'conflict', 409, { code: 'no-session-pass' });
    } else if (path.startsWith(`/v1/federations/${FED}/rounds/${t.round}/steps/`)) {
      const seq = Number(path.split('/').pop());
      const attempt = (attempts.get(seq) ?? 0) + 1;
      attempts.set(seq, attempt);
      const action = fed.step(seq, res, attempt, req.body);
      if (action === 'handled') return;
      if (seq !== nextSeq) {
        sendProblem(res, 'out-of-order-step', 409, { expected: nextSeq });
        return;
      }
      const request = decodeStepRequest(req.body);
      const activation = decodeFrame(request.frame);
      // dL/d(embed) = the activation itself: the head update is then easy to predict.
      const gradient = encodeFrame(
        { shape: request.header.shape, data: activation.data },
        { encoding: t.downlink },
      );
      const answer = encodeStepAnswer({ loss: STEP_LOSS, correct: 1, gradient });
      nextSeq++;
      fed.applied.push(seq);
      fed.labels.push(Array.from(request.labels));
      fed.budgetUsed += req.body.length + answer.length;
      if (action === 'apply-and-drop') {
        res.socket?.destroy();
        return;
      }
      res
        .writeHead(200, {
          'content-type': 'application/vnd.splitflare.step-answer',
          'x-budget-used': String(fed.budgetUsed),
          'x-budget-bytes': String(t.budgetBytes),
        })
        .end(answer);
    } else if (path === `/v1/federations/${FED}/rounds/${t.round}/submit`) {
      submitAttempts++;
      fed.submits.push(req);
      if (fed.submit(res, submitAttempts) === 'handled') return;
      res
        .writeHead(submitAttempts > 1 ? 200 : 202, { 'content-type': 'application/json' })
        .end(JSON.stringify({ round: t.round, participants: 1, duplicate: submitAttempts > 1 }));
    } else {
      sendProblem(res, 'not-found', 404);
    }
  });
  return fed;
}

/** The head tensor and metadata of a submitted update, read as the submit route reads it. */
export function readUpdate(body: Uint8Array): { w: Float32Array; meta: UpdateMetadata } {
  const { tensors, metadata } = decodeUpdate(body);
  return { w: tensors.get('w')!, meta: metadata };
}
