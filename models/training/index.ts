export { TRAINING_FILES, type TrainingArtifactsOptions, writeTrainingArtifacts } from './artifacts.js';
export { exportVersion } from './export.js';
export {
  type AdapterRecipe,
  type NamedRecipe,
  REFERENCE_RECIPE,
  type Selection,
  STRUCTURAL_RECIPE,
} from './recipe.js';
export { exactSources, type ResolvedRecipe, resolveRecipe } from './resolve.js';
