// The per-client training session Durable Object and the types of its RPC.
export {
  ClientSession,
  type FinishValue,
  type InitInput,
  type SessionStatus,
  type StepValue,
} from './session.js';
