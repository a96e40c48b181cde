// The worker side of PgliteThread (pglite-thread.ts): owns one PGlite instance and runs what the calling
// thread sends. Plain JavaScript, so that it loads in a worker thread whatever runs the TypeScript.
import { parentPort, workerData } from 'node:worker_threads';
import process from 'node:process';
import { PGlite } from '@electric-sql/pglite';

// int8 and numeric as JS numbers, as the store reads them on PostgreSQL (PGLITE_PARSERS in pglite-thread.ts).
const PARSERS = { 20: (value) => Number(value), 1700: (value) => Number.parseFloat(value) };

// Statement text and parameters stay out of errors that cross threads: they are not needed to explain a
// failure and could carry whatever the statement carried.
const DROPPED_ERROR_FIELDS = new Set(['query', 'params', 'queryOptions']);

function serializeError(error) {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), fields: {} };
  const fields = {};
  for (const [key, value] of Object.entries(error)) {
    if (DROPPED_ERROR_FIELDS.has(key)) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') fields[key] = value;
  }
  return { name: error.name, message: error.message, fields };
}

const port = parentPort;
if (port === null) throw new Error('pglite-worker runs as a worker thread of PgliteThread');

let db;
try {
  db = new PGlite(workerData.dir);
  await db.waitReady;
  db.onNotification((channel, payload) => port.postMessage({ op: 'notification', channel, payload }));
  port.postMessage({ op: 'ready' });
} catch (error) {
  port.postMessage({ op: 'open-failed', error: serializeError(error) });
  process.exit(1);
}

function run(message) {
  switch (message.op) {
    case 'query':
      return db.query(message.sql, message.params, { ...message.options, parsers: PARSERS });
    case 'exec':
      return db.exec(message.sql);
    case 'close':
      return db.close();
    default:
      return Promise.reject(new Error(`unknown operation ${message.op}`));
  }
}

port.on('message', (message) => {
  run(message).then(
    (result) => port.postMessage({ op: 'result', id: message.id, result }),
    (error) => port.postMessage({ op: 'error', id: message.id, error: serializeError(error) }),
  );
});
