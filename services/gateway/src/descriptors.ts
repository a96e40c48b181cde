import { readFile } from 'node:fs/promises';
import {
  createFileRegistry,
  fromBinary,
  getExtension,
  hasExtension,
  type DescField,
  type DescFile,
  type DescMessage,
  type DescMethod,
  type FileRegistry,
} from '@bufbuild/protobuf';
import { FileDescriptorSetSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';

/** One `google.api.HttpRule`, read from the image dynamically (the gateway has no generated code for it). */
export interface HttpRuleValue {
  selector: string;
  pattern:
    | { case: 'get' | 'put' | 'post' | 'delete' | 'patch'; value: string }
    | { case: 'custom'; value: { kind: string; path: string } }
    | { case: undefined; value?: undefined };
  body: string;
  responseBody: string;
  additionalBindings: HttpRuleValue[];
}

/** The contracts image, its registry and what the gateway reads from it besides the types. */
export interface Contracts {
  registry: FileRegistry;
  files: DescFile[];
  /** Every rpc of every service, with its `google.api.http` rule when annotated. */
  methods: { method: DescMethod; rule: HttpRuleValue | undefined }[];
  /** The leading comment of a descriptor (service, method, message, field, enum, enum value), trimmed. */
  comment(desc: { proto: object }): string | undefined;
  /** Whether a field carries `(google.api.field_behavior) = REQUIRED`. */
  isRequired(field: DescField): boolean;
}

export class ContractsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ContractsError';
  }
}

/** google.api.FieldBehavior.REQUIRED */
const FIELD_BEHAVIOR_REQUIRED = 2;

export async function loadContracts(imageUrl: URL): Promise<Contracts> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(imageUrl);
  } catch (cause) {
    throw new ContractsError(
      `cannot read the contracts image at ${imageUrl.href}: build it with "buf build -o <file>"`,
      { cause },
    );
  }
  return contractsFromImage(bytes);
}

export function contractsFromImage(bytes: Uint8Array): Contracts {
  const set = fromBinary(FileDescriptorSetSchema, bytes);
  const registry = createFileRegistry(set);
  const httpExt = registry.getExtension('google.api.http');
  if (!httpExt) {
    throw new ContractsError(
      'the contracts image lacks google/api/annotations.proto: build the image with its imports (buf build includes them by default)',
    );
  }
  const behaviorExt = registry.getExtension('google.api.field_behavior');
  const files = [...registry.files];
  const methods: Contracts['methods'] = [];
  for (const file of files) {
    for (const service of file.services) {
      for (const method of service.methods) {
        const options = method.proto.options;
        const rule =
          options && hasExtension(options, httpExt)
            ? (getExtension(options, httpExt) as unknown as HttpRuleValue)
            : undefined;
        methods.push({ method, rule });
      }
    }
  }
  const comments = collectComments(files);
  return {
    registry,
    files,
    methods,
    comment: (desc) => comments.get(desc.proto),
    isRequired(field) {
      const options = field.proto.options;
      if (!behaviorExt || !options || !hasExtension(options, behaviorExt)) return false;
      const values = getExtension(options, behaviorExt) as unknown;
      return Array.isArray(values) && values.includes(FIELD_BEHAVIOR_REQUIRED);
    },
  };
}

/**
 * Maps each descriptor proto object to its leading comment, using the source info of the image (present
 * when the image was built by `buf build`, which keeps it unless `--exclude-source-info` is given).
 * Paths follow descriptor.proto's field numbers: message_type 4, nested_type 3, field 2, enum_type 5
 * (4 inside a message), value 2, service 6, method 2.
 */
function collectComments(files: DescFile[]): Map<object, string> {
  const out = new Map<object, string>();
  for (const file of files) {
    const byPath = new Map<string, string>();
    for (const loc of file.proto.sourceCodeInfo?.location ?? []) {
      const text = loc.leadingComments.trim();
      if (text) byPath.set(loc.path.join(','), text.replace(/\n /g, '\n'));
    }
    if (byPath.size === 0) continue;
    const add = (proto: object, path: number[]) => {
      const text = byPath.get(path.join(','));
      if (text) out.set(proto, text);
    };
    const walkMessage = (msg: FileDescriptorProto['messageType'][number], path: number[]) => {
      add(msg, path);
      msg.field.forEach((f, i) => add(f, [...path, 2, i]));
      msg.nestedType.forEach((m, i) => walkMessage(m, [...path, 3, i]));
      msg.enumType.forEach((e, i) => walkEnum(e, [...path, 4, i]));
    };
    const walkEnum = (e: FileDescriptorProto['enumType'][number], path: number[]) => {
      add(e, path);
      e.value.forEach((v, i) => add(v, [...path, 2, i]));
    };
    file.proto.messageType.forEach((m, i) => walkMessage(m, [4, i]));
    file.proto.enumType.forEach((e, i) => walkEnum(e, [5, i]));
    file.proto.service.forEach((s, i) => {
      add(s, [6, i]);
      s.method.forEach((m, j) => add(m, [6, i, 2, j]));
    });
  }
  return out;
}

/** Finds a field of a message by its proto name or its JSON (lowerCamel) name. */
export function findField(message: DescMessage, name: string): DescField | undefined {
  return message.fields.find((f) => f.name === name || f.jsonName === name);
}
