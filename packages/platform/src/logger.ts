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
