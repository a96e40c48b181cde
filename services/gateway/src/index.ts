export {
  createGateway,
  HEALTH_PATH,
  OPENAPI_PATH,
  type Gateway,
  type GatewayLogger,
  type GatewayOptions,
} from './gateway.js';
export { GatewayError, httpStatusFromCode, codeNameFromNumber, type GrpcCodeName } from './errors.js';
export { BackendConfigError } from './backends.js';
export { ContractsError } from './descriptors.js';
export { RouteTableError } from './route-table.js';
export { DASHBOARD_DIR, DASHBOARD_PREFIX } from './dashboard.js';
