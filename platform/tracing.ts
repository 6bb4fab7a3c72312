/**
 * OpenTelemetry traces through @temporalio/interceptors-opentelemetry: one trace per execution, from
 * the API request (a server span) through the client's StartWorkflow span, the workflow
 * (RunWorkflow, in the sandbox, exported through a sink) to every activity (StartActivity →
 * RunActivity). Exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; off otherwise, at no cost.
 *
 * Why OTLP/HTTP (JSON) 0.57: it is pure JavaScript on node:http (no gRPC or protobuf native code),
 * works on Node 20, and is the last line built on the 1.x SDK that the Temporal interceptors use.
 */
import { context, propagation, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';

export interface Tracing {
  tracer: Tracer;
  resource: Resource;
  spanProcessor: SpanProcessor;
  /** Exports what is buffered now. */
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

let globalsInstalled = false;

/**
 * Process-wide OpenTelemetry state, set once (the first one set wins): a context manager, so parent
 * spans cross `await`s, and the W3C trace-context propagator, which carries the span context in
 * Temporal headers from the client to the workflow and from the workflow to its activities.
 */
function installGlobals(): void {
  if (globalsInstalled) return;
  globalsInstalled = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

export function createTracing(opts: {
  serviceName: string;
  /** Default: OTLP/HTTP, configured by the standard OTEL_EXPORTER_OTLP_* variables. */
  exporter?: SpanExporter;
  /** Export each span at once (tests) instead of in batches. */
  simple?: boolean;
  /** Also make this the global tracer provider (code that calls trace.getTracer() gets it). */
  registerGlobal?: boolean;
}): Tracing {
  installGlobals();
  const resource = new Resource({ 'service.name': opts.serviceName });
  const exporter = opts.exporter ?? new OTLPTraceExporter();
  const spanProcessor = opts.simple ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter);
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  if (opts.registerGlobal) provider.register();
  return {
    tracer: provider.getTracer('pontoon'),
    resource,
    spanProcessor,
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

/** Client interceptors that open a StartWorkflow span (child of the active span) and pass it on. */
export function tracingClientInterceptors(tracing: Tracing) {
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer: tracing.tracer })] };
}
