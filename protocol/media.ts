/** Content type of a binary tensor frame (see protocol/frame.ts). */
export const FRAME_CONTENT_TYPE = 'application/vnd.splitflare.frame';
export const ONNX_CONTENT_TYPE = 'application/octet-stream';
