import { NodeSDK } from '@opentelemetry/sdk-node';
import { ConsoleSpanExporter, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';

export type TraceExporterKind = 'none' | 'console' | 'otlp';

/**
 * Starts the OpenTelemetry SDK for an application (libraries only use @opentelemetry/api). gRPC calls get
 * spans from the grpc instrumentation (method and status only); application spans carry ids, model names
 * and numbers, never conversation text. ESM apps also need `--import @routeplex/platform/otel-hook`.
 */
export interface TelemetryOptions {
  serviceName: string;
  exporter: TraceExporterKind;
  otlpEndpoint?: string | undefined;
}

export function startTelemetry(options: TelemetryOptions): { shutdown(): Promise<void> } {
  if (options.exporter === 'none') return { shutdown: async () => {} };
  const traceExporter: SpanExporter =
    options.exporter === 'console'
      ? new ConsoleSpanExporter()
      : new OTLPTraceExporter(options.otlpEndpoint ? { url: options.otlpEndpoint } : {});
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    traceExporter,
    instrumentations: [new GrpcInstrumentation({ ignoreGrpcMethods: ['Check', 'Watch'] })],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
