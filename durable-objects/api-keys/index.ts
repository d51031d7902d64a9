// The per-key Durable Object for inference API keys and the types of its RPC.
export { ApiKey, type CreateKeyInput, type KeyInfo, type KeyUse } from './api-key.js';
