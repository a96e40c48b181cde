export { startEmbedded, type Embedded, type EmbeddedOptions } from './embedded.js';
export { loadEmbeddedConfig, embeddedEnv, type EmbeddedConfig } from './config.js';
