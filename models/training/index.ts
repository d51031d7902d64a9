export { TRAINING_FILES, type TrainingArtifactsOptions, writeTrainingArtifacts } from './artifacts.js';
export { type AdapterRecipe, REFERENCE_RECIPE } from './recipe.js';
