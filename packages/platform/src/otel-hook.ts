// Loaded with `node --import` before the application so that OpenTelemetry can instrument ES modules.
import { register } from 'node:module';

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
