// The per-client training session Durable Object, the round's shared tail
// (SplitFed V2) and the types of their RPC.
export {
  ClientSession,
  type FinishValue,
  type InitInput,
  type SessionStatus,
  type StepValue,
} from './session.js';
export { type SharedStepValue, SharedTail, type SharedTailInit } from './shared-tail.js';
