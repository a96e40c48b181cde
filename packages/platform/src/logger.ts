import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Credentials and any field that could carry conversation text are redacted by
 * path, as a second line of defence: code never logs prompts or answers in the first place.
 */
export function createLogger(options: {
  name: string;
  level: LevelWithSilent;
  destination?: pino.DestinationStream;
}): Logger {
  return pino(
    {
      name: options.name,
      level: options.level,
      base: { service: options.name },
      redact: {
        paths: [
          'authorization',
          '*.authorization',
          'headers.authorization',
          'messages',
          '*.messages',
          'content',
          '*.content',
          'prompt',
          'response',
          'text',
          'apiKey',
          '*.apiKey',
        ],
        censor: '[redacted]',
      },
    },
    options.destination,
  );
}

/**
 * For a service's main: logs a failure the process cannot recover from and exits non-zero, so that its
 * supervisor restarts it (a process that keeps answering without its database would lose every record).
 */
export function exitOnFatal(logger: Logger, what: string): (error: Error) => void {
  return (error) => {
    logger.fatal({ err: error.message }, `${what}; exiting`);
    process.exit(1);
  };
}

/**
 * For a service's main: on SIGTERM or SIGINT (once), runs `steps` in order (stop serving, flush and close
 * the store, ...) and exits 0, or logs the failure and exits 1.
 */
export function stopOnSignals(logger: Logger, name: string, steps: readonly (() => Promise<unknown>)[]): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `${name} stopping`);
    try {
      for (const step of steps) await step();
    } catch (err) {
      logger.error({ err }, `${name} did not stop cleanly`);
      process.exit(1);
    }
    logger.info({}, `${name} stopped`);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
