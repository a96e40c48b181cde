export * from './errors.js';
export * from './config.js';
export * from './auth.js';
export * from './logger.js';
export * from './grpc-server.js';
export * from './telemetry.js';
export * from './secrets.js';
export * from './env.js';
