/** Content type of a binary tensor frame (see protocol/frame.ts). */
export const FRAME_CONTENT_TYPE = 'application/vnd.splitflare.frame';
export const ONNX_CONTENT_TYPE = 'application/octet-stream';
/** Body of a training step (protocol/step.ts) and its answer. */
export const STEP_CONTENT_TYPE = 'application/vnd.splitflare.step';
export const STEP_ANSWER_CONTENT_TYPE = 'application/vnd.splitflare.step-answer';
/** A device's adapter update: safetensors with the submission's metadata. */
export const UPDATE_CONTENT_TYPE = 'application/vnd.splitflare.update';
/** Published adapters: safetensors. */
export const SAFETENSORS_CONTENT_TYPE = 'application/vnd.splitflare.safetensors';
