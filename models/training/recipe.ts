// Which tensors split fine-tuning trains, in one place so the centralized
// baseline, the artifacts and the federated runs all train the same things.

/**
 * How a recipe picks tensors: `'auto'` finds them from the graph's structure
 * (lora/structure.ts), so it works on any ViT export whatever its names; a
 * list of regexps over initializer names picks exactly what it names (`[]`:
 * none of this kind).
 */
export type Selection = 'auto' | RegExp[];

export interface AdapterRecipe {
  /** LoRA targets: frozen MatMul/Gemm weights that get a low-rank adapter pair. */
  targets: Selection;
  /** Parameters trained directly ("full" mode). */
  full: Selection;
  rank: number;
  alpha: number;
  seed: number;
}

/** A recipe that names its tensors; it also serves as injectLora options as it is. */
export interface NamedRecipe extends AdapterRecipe {
  targets: RegExp[];
  full: RegExp[];
}

/**
 * For any ViT: LoRA on every linear layer inside an encoder block (attention
 * projections, torch's fused in_proj included, and the MLP); the patch
 * embedding (the device's only layer at the `embed` cut) and the classifier
 * (a new task needs a new one) trained in full.
 */
export const STRUCTURAL_RECIPE: AdapterRecipe = {
  targets: 'auto',
  full: 'auto',
  rank: 8,
  alpha: 16,
  seed: 0,
};

/** STRUCTURAL_RECIPE spelled out in the reference ViT's tensor names: it selects the same tensors there. */
export const REFERENCE_RECIPE: NamedRecipe = {
  targets: [/^blocks\.\d+\.attn\.(q|k|v|proj)\.weight$/, /^blocks\.\d+\.mlp\.fc[12]\.weight$/],
  full: [/^embed\.patch\.(weight|bias)$/, /^head\.(weight|bias)$/],
  rank: STRUCTURAL_RECIPE.rank,
  alpha: STRUCTURAL_RECIPE.alpha,
  seed: STRUCTURAL_RECIPE.seed,
};
