// The shape of a model bundled into the Worker (see workers/generated/models.ts,
// written by scripts/build-models.ts).
export interface BundledTrainingArtifacts {
  headForward: ArrayBuffer;
  headBackward?: ArrayBuffer;
  tailTrain: ArrayBuffer;
  tailInfer: ArrayBuffer;
  trainables: ArrayBuffer;
}

export interface BundledModel {
  manifest: unknown;
  head: ArrayBuffer;
  tail: ArrayBuffer;
  training?: BundledTrainingArtifacts;
}
