export * from './attributes.js';
export * from './initializers.js';
export * from './model.js';
export * from './proto.js';
export * from './tensor.js';
