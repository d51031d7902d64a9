// The wire format's public surface, for the device SDK and the Workers alike.
export * from './crc32.js';
export * from './encoding.js';
export * from './float16.js';
export * from './frame.js';
export * from './quantize.js';
