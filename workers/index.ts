import { createApp } from './app.js';

export { ApiKey } from '../durable-objects/api-keys/index.js';
export { FederationCoordinator } from '../durable-objects/coordinator/index.js';
export { ClientSession, SharedTail } from '../durable-objects/session/index.js';

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
