// The built models as the tests' registry holds them (artifacts/seed.ts):
// a manifest and the bytes of each artifact it names.
import { SEED } from '../../artifacts/seed.js';
import { type Artifact, Manifest } from '../../protocol/manifest.js';

export interface SeededModel {
  manifest: Manifest;
  bytes(artifact: Artifact): Uint8Array<ArrayBuffer>;
}

export function seededModel(id: string): SeededModel {
  const entry = SEED.find((e) => (e.manifest as { modelId: string }).modelId === id);
  if (!entry) throw new Error(`no built model ${id} (npm run build:models)`);
  const manifest = Manifest.parse(entry.manifest);
  return {
    manifest,
    bytes(artifact) {
      const file = entry.files[artifact.sha256];
      if (!file) throw new Error(`${id}: ${artifact.file} is not in the seed`);
      return new Uint8Array(file);
    },
  };
}
