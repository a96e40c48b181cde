// The `routeplex` command: the embedded all-in-one start, account and key administration, development
// JWTs, and the replay evaluator.
import { parseArgs } from 'node:util';
import { ACCOUNT_ID_SHAPE, exitOnFailure, mintJwt, startTelemetry, telemetryConfigFrom } from '@routeplex/platform';
import { openStore } from '@routeplex/store';
import { loadEmbeddedConfig } from './config.js';
import { savedSecrets, startEmbedded } from './embedded.js';

const USAGE = `usage: routeplex <command>
  start                              start every service and the REST facade (embedded default)
  account create <name>              create an account and print an API key for it
  key create <account-id>            print a new API key for an account
  key revoke <account-id> <key-id>   revoke an API key
  jwt mint <account-id> [--ttl s]    print a development HS256 JWT (ROUTEPLEX_JWT_SECRET or the embedded one)
  replay [options]                   replay evaluator (see 'routeplex replay --help')
  help                               print this usage`;

async function main(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  // Before the configuration is read: asking for the usage must work whatever the environment holds.
  if (command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return 0;
  }
  if (command === 'replay') {
    const { runReplayCli } = await import('@routeplex/replay');
    return runReplayCli(argv.slice(1));
  }
  const config = loadEmbeddedConfig(process.env);
  switch (command) {
    case 'start':
      return start(config);
    case 'account':
    case 'key': {
      const store = await openStore(
        config.DATABASE_URL
          ? { databaseUrl: config.DATABASE_URL, listen: false }
          : { pgliteDir: `${config.ROUTEPLEX_DATA_DIR}/pglite`, listen: false },
      );
      try {
        if (command === 'account' && sub === 'create' && rest[0]) {
          const account = await store.createAccount(rest[0]);
          const key = await store.createApiKey(account.id);
          console.log(JSON.stringify({ account_id: account.id, key_id: key.id, api_key: key.key }));
          return 0;
        }
        if (command === 'key' && sub === 'create' && rest[0]) {
          const key = await store.createApiKey(rest[0]);
          console.log(JSON.stringify({ account_id: rest[0], key_id: key.id, api_key: key.key }));
          return 0;
        }
        if (command === 'key' && sub === 'revoke' && rest[0] && rest[1]) {
          await store.revokeApiKey(rest[0], rest[1]);
          console.log(JSON.stringify({ revoked: rest[1] }));
          return 0;
        }
      } finally {
        await store.close();
      }
      break;
    }
    case 'jwt': {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { ttl: { type: 'string', default: '3600' } },
        allowPositionals: true,
      });
      if (sub !== 'mint' || !positionals[0]) break;
      const ttlSeconds = Number(values.ttl);
      if (!/^[0-9]+$/.test(values.ttl) || !Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) {
        console.error(`--ttl must be a whole number of seconds, at least 1; got ${values.ttl}`);
        return 2;
      }
      if (!ACCOUNT_ID_SHAPE.test(positionals[0])) {
        console.error(
          `the account id must be 1-64 characters among letters, digits and _.:@|+- (the services refuse any other); got ${positionals[0]}`,
        );
        return 2;
      }
      let secret = config.ROUTEPLEX_JWT_SECRET;
      if (!secret) {
        // The secret an embedded start generated; one given to it in the environment is never on disk.
        const saved = (await savedSecrets(config.ROUTEPLEX_DATA_DIR)).jwtSecret;
        if (typeof saved !== 'string') {
          console.error(
            `no JWT secret: set ROUTEPLEX_JWT_SECRET to the one the services use (${config.ROUTEPLEX_DATA_DIR}/secrets.json holds none; it is written by the first embedded start)`,
          );
          return 1;
        }
        secret = saved;
      }
      console.log(
        await mintJwt({
          secret,
          accountId: positionals[0],
          ttlSeconds,
          claim: config.ROUTEPLEX_JWT_ACCOUNT_CLAIM,
          // The services check these when they are set: a token without them would be refused.
          issuer: config.ROUTEPLEX_JWT_ISSUER,
          audience: config.ROUTEPLEX_JWT_AUDIENCE,
        }),
      );
      return 0;
    }
  }
  console.error(USAGE);
  return 2;
}

async function start(config: ReturnType<typeof loadEmbeddedConfig>): Promise<number> {
  // gRPC calls are traced only with the instrumentation hook loaded first (scripts/start does it when
  // ROUTEPLEX_TRACES is set); the facade's child process starts its own from the same variables.
  const telemetry = startTelemetry(telemetryConfigFrom(config, 'routeplex'));
  const embedded = await startEmbedded({ config, env: process.env });
  const { ports, gatewayUrl, devApiKey } = embedded;
  console.log(`routeplex is running (embedded${config.DATABASE_URL ? ', PostgreSQL' : `, PGlite in ${config.ROUTEPLEX_DATA_DIR}/pglite`})
  REST facade      ${gatewayUrl}/api/v1   (OpenAPI: ${gatewayUrl}/api/v1/openapi.json, dashboard: ${gatewayUrl}/dashboard/)
  RouterService    ${config.GRPC_HOST}:${ports.router}
  FeedbackService  ${config.GRPC_HOST}:${ports.feedback}
  InsightsService  ${config.GRPC_HOST}:${ports.insights}
Try it:
  curl -s ${gatewayUrl}/api/v1/chat/completions -H 'authorization: Bearer ${devApiKey}' -H 'content-type: application/json' \\
    -d '{"model": "routeplex-ai", "messages": [{"role": "user", "content": "Write a function that reverses a linked list"}]}'`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await embedded.close();
  await telemetry.shutdown();
  embedded.logger.info({}, 'stopped cleanly; pending entries flushed');
  return 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), exitOnFailure(process.env));
