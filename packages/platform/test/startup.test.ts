import { expect } from 'chai';
import { createServer, type Server } from 'node:net';
import { ConfigError } from '../src/config.js';
import { notFound } from '../src/errors.js';
import { startGrpcServer, type RunningServer } from '../src/grpc-server.js';
import { failureText, listenOn, StartupError } from '../src/startup.js';

/** A port some other listener holds for the length of a test. */
async function takenPort(): Promise<{ port: number; release: () => Promise<void> }> {
  const holder: Server = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const port = (holder.address() as { port: number }).port;
  return { port, release: () => new Promise((resolve) => holder.close(() => resolve())) };
}

describe('listenOn', () => {
  it('names the variable to change when a gRPC server finds its port taken', async () => {
    const taken = await takenPort();
    try {
      const failure = await listenOn({ variable: 'ROUTER_GRPC_PORT', host: '127.0.0.1', port: taken.port }, () =>
        startGrpcServer({ host: '127.0.0.1', port: taken.port, services: [] }),
      ).then(
        () => expect.fail('the server started on a taken port'),
        (err: unknown) => err,
      );
      expect(failure).to.be.instanceOf(StartupError);
      expect((failure as Error).message).to.equal(
        `ROUTER_GRPC_PORT ${taken.port} is in use: stop what listens there or set ROUTER_GRPC_PORT to a free port`,
      );
    } finally {
      await taken.release();
    }
  });

  it('hands back the started server when the port is free, the check having let it go', async () => {
    const taken = await takenPort();
    await taken.release();
    let server: RunningServer | undefined;
    try {
      server = await listenOn({ variable: 'FEEDBACK_GRPC_PORT', host: '127.0.0.1', port: taken.port }, () =>
        startGrpcServer({ host: '127.0.0.1', port: taken.port, services: [] }),
      );
      expect(server.port).to.equal(taken.port);
    } finally {
      await server?.close(0);
    }
  });

  it('passes on any other failure of the start unchanged', async () => {
    const cause = notFound('the catalog has no model');
    const failure = await listenOn({ variable: 'GATEWAY_PORT', host: '127.0.0.1', port: 0 }, () =>
      Promise.reject(cause),
    ).then(
      () => expect.fail('the start succeeded'),
      (err: unknown) => err,
    );
    expect(failure).to.equal(cause);
  });
});

describe('failureText', () => {
  it('gives the message alone of a typed error, the operator having nothing to do with its stack', () => {
    const config = new ConfigError(['GATEWAY_PORT ("abc"): must be a port number']);
    expect(failureText(config, {})).to.equal('invalid configuration:\n  - GATEWAY_PORT ("abc"): must be a port number');
    expect(failureText(new StartupError('GATEWAY_PORT 1 is in use'), {})).to.equal('GATEWAY_PORT 1 is in use');
  });

  it('marks an untyped error as unexpected and says how to see where it was thrown', () => {
    expect(failureText(new TypeError('x is not a function'), { ROUTEPLEX_LOG_LEVEL: 'info' })).to.equal(
      'TypeError: x is not a function (unexpected; ROUTEPLEX_LOG_LEVEL=debug shows where it was thrown)',
    );
  });

  it('shows the stack and the cause at log level debug or trace', () => {
    const err = new StartupError('GATEWAY_PORT 1 is in use', { cause: new Error('listen EADDRINUSE') });
    for (const level of ['debug', 'trace']) {
      const text = failureText(err, { ROUTEPLEX_LOG_LEVEL: level });
      expect(text).to.match(/^StartupError: GATEWAY_PORT 1 is in use\n\s+at /);
      expect(text).to.include('listen EADDRINUSE');
    }
  });

  it('shows whole whatever is thrown that is not an Error', () => {
    expect(failureText('a bare string', {})).to.equal("'a bare string'");
    expect(failureText({ reason: 'gone' }, {})).to.equal("{ reason: 'gone' }");
  });
});
