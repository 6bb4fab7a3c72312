/**
 * Request metrics by route template (never the raw URL: ids would make unbounded series), the
 * controllers' gauges (api/function-metrics.ts), and a server span per request when traced.
 */
import { context, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import type { PontoonMetrics } from '../../platform/metrics.ts';

/** onResponse metrics (and span end); onRequest span start when `tracer` is given. */
export function registerTelemetry(app: FastifyInstance, metrics: PontoonMetrics, tracer?: Tracer): void {
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const labels = { method: req.method, route };
    metrics.apiRequests.inc({ ...labels, status_code: String(reply.statusCode) });
    metrics.apiRequestDuration.observe(labels, reply.elapsedTime / 1000);
    req.span?.setAttribute('http.status_code', reply.statusCode);
    if (reply.statusCode >= 500) req.span?.setStatus({ code: SpanStatusCode.ERROR });
    req.span?.end();
    done();
  });
  if (tracer) {
    // A server span per request, made the active context for the rest of the request: the Temporal
    // client interceptor parents its StartWorkflow span on it, so one trace runs from the request
    // through the workflow to every activity.
    app.addHook('onRequest', (req, _reply, done) => {
      const route = req.routeOptions.url ?? 'unmatched';
      const span = tracer.startSpan(`${req.method} ${route}`, {
        kind: SpanKind.SERVER,
        attributes: { 'http.method': req.method, 'http.route': route },
      });
      req.span = span;
      context.with(trace.setSpan(context.active(), span), done);
    });
  }
}
