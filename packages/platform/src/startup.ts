import { createServer } from 'node:net';
import { inspect } from 'node:util';

type Env = Record<string, string | undefined>;

/** A start that failed for a reason the operator fixes (a busy port, ...); the message says what to do. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
  readonly code = 'FAILED_PRECONDITION';
}

/** Where a server is told to listen, and the variable that chose its port. */
export interface ListenTarget {
  variable: string;
  host: string;
  port: number;
}

/**
 * Runs `start` (which listens on `target`) and, when the port cannot be taken, throws a StartupError that
 * names the variable to change instead of the socket error.
 */
export async function listenOn<T>(target: ListenTarget, start: () => Promise<T>): Promise<T> {
  try {
    // grpc-js logs a line of its own for an address it cannot bind, ahead of any explanation: a port that
    // is taken is found first with a plain listener, so that the explanation is all the operator reads.
    if (target.port !== 0) await probe(target.host, target.port);
    return await start();
  } catch (err) {
    throw explainListenFailure(err, target) ?? err;
  }
}

function probe(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    // Anything but a taken or forbidden port (a host name this machine lacks, ...) is left to the real
    // listener, whose message is the one to show.
    server.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' || err.code === 'EACCES' ? reject(err) : resolve(),
    );
    server.listen({ host: host.replace(/^\[(.*)\]$/, '$1'), port }, () => server.close(() => resolve()));
  });
}

function explainListenFailure(err: unknown, { variable, port }: ListenTarget): StartupError | undefined {
  // grpc-js keeps only the text of the socket error, inside its own message: the code is read from there.
  const code = err instanceof Error ? /\blisten (EADDRINUSE|EACCES)\b/.exec(err.message)?.[1] : undefined;
  if (code === 'EADDRINUSE')
    return new StartupError(
      `${variable} ${port} is in use: stop what listens there or set ${variable} to a free port`,
      { cause: err },
    );
  if (code === 'EACCES')
    return new StartupError(
      `${variable} ${port} needs privileges this process lacks: set ${variable} to a port above 1023`,
      { cause: err },
    );
  return undefined;
}

const DEBUG_LEVELS: ReadonlySet<string | undefined> = new Set(['debug', 'trace']);

/**
 * What a main prints when it cannot go on. An Error gives its message (typed errors write it for the
 * operator); its stack only when ROUTEPLEX_LOG_LEVEL is debug or trace, read raw since the configuration
 * may be what failed. Anything else thrown is shown whole.
 */
export function failureText(err: unknown, env: Env): string {
  if (!(err instanceof Error) || DEBUG_LEVELS.has(env.ROUTEPLEX_LOG_LEVEL)) return inspect(err);
  if (typeof (err as { code?: unknown }).code === 'string') return err.message;
  return `${err.name}: ${err.message} (unexpected; ROUTEPLEX_LOG_LEVEL=debug shows where it was thrown)`;
}

/** For a process's main: prints why it failed (see failureText) and exits 1. */
export function exitOnFailure(env: Env): (err: unknown) => never {
  return (err) => {
    console.error(failureText(err, env));
    process.exit(1);
  };
}
