import { fileURLToPath } from 'node:url';

/** The Insights dashboard's static files, served by the facade under DASHBOARD_PREFIX. */
export const DASHBOARD_DIR = fileURLToPath(new URL('../static/dashboard', import.meta.url));
export const DASHBOARD_PREFIX = '/dashboard';
