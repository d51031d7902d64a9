// Which tensors split fine-tuning trains, in one place so the centralized
// baseline, the artifacts and the federated runs all train the same things.

export interface AdapterRecipe {
  /** LoRA targets: frozen MatMul/Gemm weights that get a low-rank adapter pair. */
  targets: RegExp[];
  /** Parameters trained directly ("full" mode). */
  full: RegExp[];
  rank: number;
  alpha: number;
  seed: number;
}

/**
 * For the reference ViT: LoRA on every attention projection and MLP weight;
 * the patch embedding (the device's only layer at the `embed` cut) and the
 * classifier (a new task needs a new one) trained in full.
 */
export const REFERENCE_RECIPE: AdapterRecipe = {
  targets: [/^blocks\.\d+\.attn\.(q|k|v|proj)\.weight$/, /^blocks\.\d+\.mlp\.fc[12]\.weight$/],
  full: [/^embed\.patch\.(weight|bias)$/, /^head\.(weight|bias)$/],
  rank: 8,
  alpha: 16,
  seed: 0,
};
