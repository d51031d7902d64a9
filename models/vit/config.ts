// The shape of a ViT the builder can make, and the project's reference model.

export interface VitConfig {
  imageSize: number;
  channels: number;
  patchSize: number;
  /** Embedding width D. */
  width: number;
  /** Number of encoder blocks. */
  depth: number;
  heads: number;
  /** MLP hidden width as a multiple of D. */
  mlpRatio: number;
  classes: number;
  /** Seed for the weight initialisation. */
  seed: number;
}

/** The project's reference model: MNIST-sized, small enough to train in a browser. */
export const REFERENCE_VIT: Readonly<VitConfig> = Object.freeze({
  imageSize: 28,
  channels: 1,
  patchSize: 7,
  width: 64,
  depth: 4,
  heads: 4,
  mlpRatio: 2,
  classes: 10,
  seed: 1,
});

/**
 * ViT-B/16 (Dosovitskiy et al. 2021): 224×224 RGB, 16×16 patches, width 768,
 * 12 blocks of 12 heads, MLP 3072; ten classes. About 86 M parameters, built
 * with seeded weights (no pretrained ViT-B weights are reachable here; users
 * bring theirs as an ONNX export).
 */
export const VIT_B16: Readonly<VitConfig> = Object.freeze({
  imageSize: 224,
  channels: 3,
  patchSize: 16,
  width: 768,
  depth: 12,
  heads: 12,
  mlpRatio: 4,
  classes: 10,
  seed: 1,
});

export function validateVitConfig(c: VitConfig): void {
  const positive: Array<keyof VitConfig> = [
    'imageSize',
    'channels',
    'patchSize',
    'width',
    'depth',
    'heads',
    'mlpRatio',
    'classes',
  ];
  for (const k of positive) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`vit config: ${k} must be a positive integer`);
  }
  if (!Number.isInteger(c.seed)) throw new Error('vit config: seed must be an integer');
  if (c.imageSize % c.patchSize !== 0) {
    throw new Error(`vit config: imageSize ${c.imageSize} is not a multiple of patchSize ${c.patchSize}`);
  }
  if (c.width % c.heads !== 0)
    throw new Error(`vit config: width ${c.width} is not a multiple of heads ${c.heads}`);
}

/** Tokens per image including the cls token. */
export function tokenCount(c: VitConfig): number {
  return (c.imageSize / c.patchSize) ** 2 + 1;
}

/** Short human-readable description, used as the manifest's `source`. */
export function describeVit(c: VitConfig): string {
  return (
    `vit(image=${c.imageSize}x${c.imageSize}x${c.channels}, patch=${c.patchSize}, width=${c.width}, ` +
    `depth=${c.depth}, heads=${c.heads}, mlpRatio=${c.mlpRatio}, classes=${c.classes}, seed=${c.seed})`
  );
}
