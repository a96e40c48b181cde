export * from './enums.js';
export * from './cell-cache.js';
