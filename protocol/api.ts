// The JSON bodies of the HTTP API's admin routes that are not a wire format
// of their own: validated by the routes, and the same schemas describe them
// in the OpenAPI document (workers/openapi.ts).
import { z } from 'zod';
import { DeviceId, FederationConfig, FederationId } from './federation.js';

/** POST /v1/federations */
export const CreateFederationBody = z.object({ id: FederationId, config: FederationConfig });

/** POST /v1/federations/:fid/devices */
export const EnrollBody = z.object({ deviceId: DeviceId });

/** POST /v1/federations/:fid/pin and …/rollback */
export const VersionBody = z.object({ version: z.number().int().nonnegative() });

const Rate = z.number().int().min(1).max(1_000_000);

/** POST /v1/api-keys */
export const CreateApiKeyBody = z.object({
  name: z.string().max(128).default(''),
  ratePerMinute: Rate.optional(),
  /** Requests allowed at once; the rate per minute by default. */
  burst: Rate.optional(),
});
export const RatePerMinute = Rate;

/** POST /v1/artifacts/:sha256/uploads/:uploadId/complete */
export const CompleteUploadBody = z.object({
  parts: z
    .array(z.object({ part: z.number().int().min(1).max(10_000), etag: z.string().min(1).max(200) }))
    .min(1)
    .max(10_000),
});

/** GET and PUT /v1/models/:id/access */
export const ModelAccess = z.object({
  /** Inference (POST /v1/models/:id/infer) answers 401 without a valid API key. */
  requireApiKey: z.boolean(),
  /** The head, its training graphs and versions' head trainables answer 401 without a device token or API key. */
  privateHead: z.boolean().default(false),
});
export type ModelAccess = z.infer<typeof ModelAccess>;
