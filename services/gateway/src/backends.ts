import { Client, credentials, type ChannelOptions } from '@grpc/grpc-js';
import { MAX_MESSAGE_BYTES } from '@routeplex/platform';

/** Backend addresses: service full name -> `host:port`; `default` serves every service not named. */
export type BackendMap = Readonly<Record<string, string>>;

export class BackendConfigError extends Error {
  readonly code = 'INVALID_ARGUMENT';
  constructor(message: string) {
    super(message);
    this.name = 'BackendConfigError';
  }
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

const CHANNEL_OPTIONS: ChannelOptions = {
  // Keep idle channels warm so that the first request after a quiet spell does not pay a reconnect.
  'grpc.enable_channelz': 0,
  // The facade never retries a call on its own (the router falls back between models); grpc-js's retry
  // machinery would buffer every message for nothing.
  'grpc.enable_retries': 0,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  // Answers as large as the requests the services take (grpc-js's default is 4 MiB): past it an answer already
  // paid for and recorded would reach the client as an error.
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
};

/**
 * One generic grpc-js client (one channel) per distinct backend address, shared by every service that
 * lives there. Requests and responses cross it as already-encoded protobuf bytes.
 */
export class Backends {
  private readonly byAddress = new Map<string, Client>();
  private readonly byService = new Map<string, Client>();
  private readonly fallback: Client | undefined;

  constructor(backends: BackendMap) {
    for (const [service, address] of Object.entries(backends)) {
      if (!HOST_PORT.test(address)) {
        throw new BackendConfigError(
          `backend address for ${service} is "${address}": give it as host:port, e.g. 127.0.0.1:50051`,
        );
      }
      let client = this.byAddress.get(address);
      if (!client) {
        client = new Client(address, credentials.createInsecure(), CHANNEL_OPTIONS);
        this.byAddress.set(address, client);
      }
      if (service !== 'default') this.byService.set(service, client);
    }
    this.fallback = backends.default === undefined ? undefined : this.byAddress.get(backends.default);
  }

  /** The client for a service, or undefined when neither it nor a default is configured. */
  clientFor(serviceName: string): Client | undefined {
    return this.byService.get(serviceName) ?? this.fallback;
  }

  close(): void {
    for (const client of this.byAddress.values()) client.close();
  }
}

/** Identity (de)serialisers: the gateway encodes and decodes with protobuf-es itself. */
export function serializeBytes(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

export function deserializeBytes(value: Buffer): Buffer {
  return value;
}
