export type { CreateFederation, SubmitResult, SubmitUpdate } from './coordinator.js';
export { FederationCoordinator } from './coordinator.js';
