// A real gRPC server for test/fixtures/library.proto, a contract that uses every HttpRule feature (path
// variables with sub-templates, `**`, a custom verb, a single-field body, response_body, a custom method,
// additional_bindings). The image is compiled with buf at test time; the server decodes with protobuf-es.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import {
  create,
  createFileRegistry,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescService,
  type Message,
} from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';

const repoRoot = new URL('../../../../', import.meta.url);
const BUF = new URL('node_modules/.bin/buf', repoRoot);

export interface FixtureBackend {
  imageUrl: URL;
  address: string;
  /** Requests received, as proto3 JSON-ish plain objects of protobuf-es (`$typeName` included). */
  calls: { method: string; request: Record<string, unknown> }[];
  close(): Promise<void>;
}

/** Compiles a proto file (with google/api imports) to a buf image; returns the image's URL and bytes. */
export async function buildImage(protoFile: URL): Promise<{ url: URL; bytes: Uint8Array; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'gateway-image-'));
  await mkdir(join(dir, 'src/google/api'), { recursive: true });
  for (const name of ['annotations.proto', 'http.proto']) {
    await copyFile(new URL(`proto/google/api/${name}`, repoRoot), join(dir, 'src/google/api', name));
  }
  await copyFile(protoFile, join(dir, 'src', protoFile.pathname.split('/').at(-1)!));
  const out = join(dir, 'image.binpb');
  await promisify(execFile)(BUF.pathname, ['build', join(dir, 'src'), '-o', out]);
  return { url: pathToFileURL(out), bytes: await readFile(out), dir };
}

export async function startFixtureBackend(): Promise<FixtureBackend> {
  const image = await buildImage(new URL('../fixtures/library.proto', import.meta.url));
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, image.bytes));
  const service = registry.getService('fixture.library.v1.LibraryService') as DescService;
  const msg = (name: string) => registry.getMessage(`fixture.library.v1.${name}`) as DescMessage;
  const calls: FixtureBackend['calls'] = [];
  type Req = Message & Record<string, unknown>;
  const answers: Record<string, (req: Req) => Message> = {
    GetBook: (req) => create(msg('Book'), { name: req.name as string, title: 'A Title', pages: 123n }),
    UpdateBook: (req) => create(msg('Book'), req.book as Record<string, unknown>),
    ArchiveBook: (req) =>
      create(msg('Book'), { name: req.name as string, title: req.reason as string, archived: true }),
    ListBooks: (req) =>
      create(msg('ListBooksResponse'), {
        books: [{ name: `shelves/${req.shelf as number}/books/1`, pages: 10n }],
        nextPageToken: `size=${req.pageSize as number}`,
      }),
    Search: (req) => req,
    Hidden: (req) => create(msg('Book'), { name: req.name as string }),
  };
  const definition: Record<string, ServiceDefinition[string]> = {};
  const implementation: UntypedServiceImplementation = {};
  for (const method of service.methods) {
    definition[method.name] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (m: Message) => Buffer.from(toBinary(method.input, m)),
      requestDeserialize: (b: Buffer) => fromBinary(method.input, b),
      responseSerialize: (m: Message) => Buffer.from(toBinary(method.output, m)),
      responseDeserialize: (b: Buffer) => fromBinary(method.output, b),
    };
    implementation[method.name] = (call: { request: Req }, callback: (err: null, value: Message) => void) => {
      calls.push({ method: method.name, request: call.request });
      callback(null, answers[method.name]!(call.request));
    };
  }
  const server = new Server();
  server.addService(definition, implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    imageUrl: image.url,
    address: `127.0.0.1:${port}`,
    calls,
    close: async () => {
      server.forceShutdown();
      await rm(image.dir, { recursive: true, force: true });
    },
  };
}
