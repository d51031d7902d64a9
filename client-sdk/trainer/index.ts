// The trainer's runtime-neutral surface; node.ts and browser.ts add a default
// ONNX runtime on top.
export {
  type CoreTrainerOptions,
  createTrainer,
  DEFAULT_DEADLINE_MARGIN_MS,
  DEFAULT_TRAINER_TIMEOUT_MS,
} from './trainer.js';
export type {
  EarlyStop,
  LocalDataset,
  RoundReport,
  Skipped,
  SkipReason,
  Trainer,
  TrainerEventName,
  TrainerEvents,
  TrainerOptions,
} from './types.js';
