export * from './dataset.js';
export * from './simulate.js';
export * from './run.js';
export * from './report.js';
export { REPLAY_USAGE, runReplayCli } from './cli.js';
