// The API contract as OpenAPI 3.1, served at GET /v1/openapi.json. Its paths
// are the app's own route table, so no route can be left out; each one is
// described below, with the zod schemas the route itself validates its body
// with and, where the API has one, the schema of its answer (zod 4's JSON
// Schema output is draft 2020-12, the dialect OpenAPI 3.1 uses). A route
// without a description here fails the contract test.
import { z } from 'zod';
import {
  CompleteUploadBody,
  CreateApiKeyBody,
  CreateFederationBody,
  EnrollBody,
  ModelAccess,
  VersionBody,
} from '../protocol/api.js';
import { Evaluation } from '../protocol/evaluation.js';
import {
  DeviceRecord,
  DeviceToken,
  Enrollment,
  FederationList,
  FederationState,
  JoinAnswer,
  RoundRecord,
  VersionRecord,
} from '../protocol/federation.js';
import { Manifest } from '../protocol/manifest.js';
import {
  FRAME_CONTENT_TYPE,
  ONNX_CONTENT_TYPE,
  SAFETENSORS_CONTENT_TYPE,
  STEP_ANSWER_CONTENT_TYPE,
  STEP_CONTENT_TYPE,
  UPDATE_CONTENT_TYPE,
} from '../protocol/media.js';
import { PROBLEM_CONTENT_TYPE } from '../protocol/problem.js';
import { JoinBody } from '../protocol/profile.js';
import { MemberKeys, SecAggStatus, SharesBody, UnmaskBody } from '../protocol/secagg/wire.js';

type Security = 'admin' | 'device' | 'public' | 'api-key';

/** A body: a zod schema (JSON) or a media type with what it holds. */
type Body = z.ZodType | { type: string; description: string };

interface Operation {
  summary: string;
  security: Security;
  body?: Body;
  answer?: Body;
  /** The success status, 200 unless said. */
  status?: number;
  /** The body may be left out. */
  optionalBody?: boolean;
}

const OCTETS = (description: string) => ({ type: 'application/octet-stream', description });
const SAFETENSORS = (description: string) => ({ type: SAFETENSORS_CONTENT_TYPE, description });
const UPDATE = {
  type: UPDATE_CONTENT_TYPE,
  description: 'safetensors with __metadata__ (protocol/update.ts)',
};
const SubmitAnswer = z.object({
  round: z.number().int(),
  participants: z.number().int(),
  duplicate: z.boolean(),
});

/** Every route of the app, keyed "METHOD /path" as Hono lists them. */
export const OPERATIONS: Record<string, Operation> = {
  'GET /': { summary: 'Names the service and its API root', security: 'public' },
  'GET /v1/openapi.json': { summary: 'This document', security: 'public' },
  // Models.
  'GET /v1/models': { summary: 'The published models', security: 'public' },
  'GET /v1/models/:id/manifest': { summary: 'A model’s manifest', security: 'public', answer: Manifest },
  'PUT /v1/models/:id': {
    summary: 'Publish a manifest once every artifact it names is in the registry',
    security: 'admin',
    body: Manifest,
    answer: Manifest,
  },
  'GET /v1/models/:id/head': {
    summary: 'The head’s ONNX bytes (a device token or API key when the head is private)',
    security: 'public',
    answer: { type: ONNX_CONTENT_TYPE, description: 'ONNX model' },
  },
  'GET /v1/models/:id/full': {
    summary: 'The unsplit model’s ONNX bytes, for a device that runs it all (same access as the head)',
    security: 'public',
    answer: { type: ONNX_CONTENT_TYPE, description: 'ONNX model' },
  },
  'GET /v1/models/:id/training/:artifact': {
    summary: 'A device training graph: headForward or headBackward',
    security: 'public',
    answer: { type: ONNX_CONTENT_TYPE, description: 'ONNX model' },
  },
  'GET /v1/models/:id/versions/:version/head': {
    summary: 'A published version’s device-side trainables (version: federation@n or federation@latest)',
    security: 'public',
    answer: SAFETENSORS('head trainables'),
  },
  'POST /v1/models/:id/infer': {
    summary: 'Run the tail on a cut activation; logits frame, or top-k JSON with Accept: application/json',
    security: 'api-key',
    body: { type: FRAME_CONTENT_TYPE, description: 'the cut activation (protocol/frame.ts)' },
    answer: { type: FRAME_CONTENT_TYPE, description: 'fp32 logits' },
  },
  'GET /v1/models/:id/access': { summary: 'Who may use a model', security: 'admin', answer: ModelAccess },
  'PUT /v1/models/:id/access': {
    summary: 'Require API keys for inference, keep the head private',
    security: 'admin',
    body: ModelAccess,
    answer: ModelAccess,
  },
  // Artifacts.
  'GET /v1/artifacts/:sha256': {
    summary: 'An artifact’s bytes (HEAD: whether it is there)',
    security: 'admin',
    answer: OCTETS('the artifact'),
  },
  'PUT /v1/artifacts/:sha256': {
    summary: 'Upload an artifact of at most 95 MB; R2 checks it against the digest',
    security: 'admin',
    body: OCTETS('the artifact'),
    status: 201,
  },
  'POST /v1/artifacts/:sha256/uploads': {
    summary: 'Start a multipart upload',
    security: 'admin',
    status: 201,
  },
  'PUT /v1/artifacts/:sha256/uploads/:uploadId/:part': {
    summary: 'Upload one part',
    security: 'admin',
    body: OCTETS('the part'),
  },
  'POST /v1/artifacts/:sha256/uploads/:uploadId/complete': {
    summary: 'Complete a multipart upload; kept only if it hashes to the digest',
    security: 'admin',
    body: CompleteUploadBody,
    status: 201,
  },
  // Operators.
  'GET /v1/admin/memory': { summary: 'Each isolate’s heap now and at its peak', security: 'admin' },
  'POST /v1/api-keys': {
    summary: 'Create an inference API key (its secret is answered once)',
    security: 'admin',
    body: CreateApiKeyBody,
    status: 201,
  },
  'GET /v1/api-keys': { summary: 'The API keys, paged', security: 'admin' },
  'GET /v1/api-keys/:keyId': { summary: 'One API key', security: 'admin' },
  'POST /v1/api-keys/:keyId/revoke': { summary: 'Revoke an API key', security: 'admin' },
  // Federations: admin.
  'POST /v1/federations': {
    summary: 'Create a federation',
    security: 'admin',
    body: CreateFederationBody,
    answer: FederationState,
    status: 201,
  },
  'GET /v1/federations': {
    summary: 'Every federation with a summary of its state, paged (?limit= up to 100, ?cursor=)',
    security: 'admin',
    answer: FederationList,
  },
  'GET /v1/federations/:fid': { summary: 'A federation’s state', security: 'admin', answer: FederationState },
  'GET /v1/federations/:fid/history': {
    summary: 'Every round',
    security: 'admin',
    answer: z.object({ rounds: z.array(RoundRecord) }),
  },
  'GET /v1/federations/:fid/events': {
    summary:
      'The live event stream: a WebSocket (subprotocol splitflare-events.v1; the admin key as Authorization or as the subprotocol bearer.<key>) of protocol/events.ts messages',
    security: 'admin',
    status: 101,
  },
  'POST /v1/federations/:fid/start': { summary: 'Open round 0', security: 'admin', answer: RoundRecord },
  'POST /v1/federations/:fid/close': {
    summary: 'Stop the federation',
    security: 'admin',
    answer: FederationState,
  },
  'POST /v1/federations/:fid/devices': {
    summary: 'Enrol a device (again: a new generation); answers its token',
    security: 'admin',
    body: EnrollBody,
    answer: Enrollment,
    status: 201,
  },
  'GET /v1/federations/:fid/devices': {
    summary: 'The enrolled devices',
    security: 'admin',
    answer: z.object({ devices: z.array(DeviceRecord) }),
  },
  'POST /v1/federations/:fid/devices/:deviceId/revoke': {
    summary: 'Refuse every token of a device',
    security: 'admin',
    answer: DeviceRecord,
  },
  'GET /v1/federations/:fid/adapters/:version/all': {
    summary: 'Both sides’ adapters of a published version',
    security: 'admin',
    answer: SAFETENSORS('every trainable'),
  },
  'GET /v1/federations/:fid/versions': { summary: 'Every version and which is current', security: 'admin' },
  'PUT /v1/federations/:fid/evaluation-set': {
    summary: 'The operator’s held-out set (safetensors pixels and labels)',
    security: 'admin',
    body: SAFETENSORS('pixels and labels'),
  },
  'POST /v1/federations/:fid/versions/:version/evaluate': {
    summary: 'Score a version on the evaluation set at the edge',
    security: 'admin',
    answer: VersionRecord,
  },
  'POST /v1/federations/:fid/pin': {
    summary: 'Make a version current and keep it',
    security: 'admin',
    body: VersionBody,
  },
  'POST /v1/federations/:fid/unpin': {
    summary: 'Let rounds move the current version again',
    security: 'admin',
  },
  'POST /v1/federations/:fid/rollback': {
    summary: 'Make a version current; a live round on another base fails and reopens',
    security: 'admin',
    body: VersionBody,
  },
  // Federations: devices.
  'GET /v1/federations/:fid/adapters/:version': {
    summary:
      'The head adapters of a published version (?model= the build of the ticket, for a federation at several cuts)',
    security: 'device',
    answer: SAFETENSORS('head trainables'),
  },
  'POST /v1/federations/:fid/token': {
    summary: 'A fresh token of the same generation',
    security: 'device',
    answer: DeviceToken,
  },
  'POST /v1/federations/:fid/join': {
    summary:
      'Join the open round: the ticket and a session pass; the optional body reports the device’s profile',
    security: 'device',
    body: JoinBody,
    optionalBody: true,
    answer: JoinAnswer,
  },
  'POST /v1/federations/:fid/rounds/:round/steps/:seq': {
    summary: 'One training step: labels and the activation up, loss and the activation’s gradient down',
    security: 'device',
    body: { type: STEP_CONTENT_TYPE, description: 'labels and an activation frame (protocol/step.ts)' },
    answer: { type: STEP_ANSWER_CONTENT_TYPE, description: 'loss, correct count, gradient frame' },
  },
  'POST /v1/federations/:fid/rounds/:round/submit': {
    summary: 'The device’s update',
    security: 'device',
    body: UPDATE,
    answer: SubmitAnswer,
    status: 202,
  },
  'POST /v1/federations/:fid/versions/:version/evaluation': {
    summary: 'The evaluator device’s score of a version',
    security: 'device',
    body: Evaluation,
    answer: VersionRecord,
  },
  'GET /v1/federations/:fid/rounds/:round/secagg': {
    summary: 'The round’s secure-aggregation phase and what this device needs from it',
    security: 'device',
    answer: SecAggStatus,
  },
  'POST /v1/federations/:fid/rounds/:round/secagg/keys': {
    summary: 'This device’s two public keys',
    security: 'device',
    body: MemberKeys,
    answer: SecAggStatus,
  },
  'POST /v1/federations/:fid/rounds/:round/secagg/shares': {
    summary: 'Sealed shares of this device’s secrets, one per roster member',
    security: 'device',
    body: SharesBody,
    answer: SecAggStatus,
  },
  'POST /v1/federations/:fid/rounds/:round/secagg/masked': {
    summary: 'The masked update (secure aggregation)',
    security: 'device',
    body: UPDATE,
    answer: SubmitAnswer,
    status: 202,
  },
  'POST /v1/federations/:fid/rounds/:round/secagg/unmask': {
    summary: 'The shares that unmask the round’s sum',
    security: 'device',
    body: UnmaskBody,
    answer: SecAggStatus,
  },
};

const SECURITY: Record<Security, Array<Record<string, string[]>>> = {
  admin: [{ adminKey: [] }],
  device: [{ deviceToken: [] }],
  'api-key': [{}, { apiKey: [] }],
  public: [],
};

const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string().optional(),
  instance: z.string().optional(),
  requestId: z.string(),
});

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
}

function content(body: Body, io: 'input' | 'output') {
  if (body instanceof z.ZodType) return { 'application/json': { schema: jsonSchema(body, io) } };
  return { [body.type]: { schema: { description: body.description } } };
}

/** OpenAPI's `{name}` for Hono's `:name`. */
const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

export class UndescribedRoute extends Error {}

export function openApiDocument(
  routes: ReadonlyArray<{ method: string; path: string }>,
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const seen = new Set<string>();
  for (const { method, path } of routes) {
    if (method === 'ALL' || path.endsWith('*')) continue;
    const key = `${method} ${path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const op = OPERATIONS[key];
    if (!op) throw new UndescribedRoute(`${key} has no description in workers/openapi.ts`);
    const parameters = [...path.matchAll(/:([A-Za-z0-9_]+)/g)].map(([, name]) => ({
      name,
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const status = String(op.status ?? 200);
    paths[openApiPath(path)] ??= {};
    paths[openApiPath(path)][method.toLowerCase()] = {
      operationId: `${method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
      summary: op.summary,
      security: SECURITY[op.security],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(op.body ? { requestBody: { required: !op.optionalBody, content: content(op.body, 'input') } } : {}),
      responses: {
        [status]: { description: 'Success', ...(op.answer ? { content: content(op.answer, 'output') } : {}) },
        default: {
          description: 'An RFC 9457 problem with a stable type (urn:splitflare:problem:<slug>)',
          content: { [PROBLEM_CONTENT_TYPE]: { schema: jsonSchema(Problem, 'output') } },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'splitflare',
      version: '1',
      description: 'Split inference and split federated fine-tuning of vision models at the edge.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: {
        adminKey: { type: 'http', scheme: 'bearer', description: 'The ADMIN_KEY secret' },
        deviceToken: { type: 'http', scheme: 'bearer', description: 'A device token from enrolment' },
        apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'An inference API key' },
      },
    },
    paths,
  };
}
