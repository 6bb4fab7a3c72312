/**
 * Spans of one attempt pod, children of the runAttempt activity's span (RunActivity:runAttempt), so
 * the trace of an execution runs from the API request through the workflow and its activities to
 * the pod:
 *
 *   AttemptPod                 launch → the pod finished (or the attempt ended otherwise)
 *   ├─ CreatePod               the create request (or the adoption of an existing pod)
 *   ├─ PodPending              created → seen Running; event `scheduled` (k8s.node.name) on the way
 *   ├─ PodRunning              seen Running → seen finished
 *   ├─ CollectPodLog           pods/log of the function container (and the observer's, for large output)
 *   ├─ StoreAttemptLog         the log into the log store (after the activity has returned)
 *   └─ DeletePod               (after the activity has returned)
 *
 * Times are when the worker saw each change through its watch: what the attempt waited for.
 * Without a tracer (tracing off) every call is a no-op.
 */

import type { V1Pod } from '@kubernetes/client-node';
import {
  type Context,
  context,
  type Span,
  type SpanOptions,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';

export class AttemptPodTrace {
  private readonly parent: Context;
  private readonly root: Span;
  private readonly rootContext: Context;
  private pending: Span | undefined;
  private running: Span | undefined;
  private scheduled = false;
  private podDone = false;
  private ended = false;

  constructor(
    private readonly tracer: Tracer,
    attributes: Record<string, string | number | boolean>,
  ) {
    this.parent = context.active();
    this.root = tracer.startSpan('AttemptPod', { attributes }, this.parent);
    this.rootContext = trace.setSpan(this.parent, this.root);
  }

  /** A child of AttemptPod around `fn` (its error, if any, marks the span). */
  async span<T>(name: string, fn: (span: Span) => Promise<T>, opts: SpanOptions = {}): Promise<T> {
    return this.spanUnder(this.rootContext, name, fn, opts);
  }

  /** A span for work done after the activity returned: a child of the activity's span. */
  async after<T>(name: string, fn: (span: Span) => Promise<T>, opts: SpanOptions = {}): Promise<T> {
    return this.spanUnder(this.parent, name, fn, opts);
  }

  private async spanUnder<T>(
    ctx: Context,
    name: string,
    fn: (span: Span) => Promise<T>,
    opts: SpanOptions,
  ): Promise<T> {
    const span = this.tracer.startSpan(name, opts, ctx);
    try {
      return await context.with(trace.setSpan(ctx, span), () => fn(span));
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  }

  /** The pod exists (created or adopted): waiting for it to be scheduled and started begins. */
  launched(name: string, created: boolean): void {
    this.root.setAttribute('pontoon.pod.adopted', !created);
    this.root.addEvent(created ? 'created' : 'adopted', { 'k8s.pod.name': name });
    this.pending ??= this.tracer.startSpan('PodPending', {}, this.rootContext);
  }

  /** Each state of the pod the attempt sees. */
  observe(pod: V1Pod, state: 'pending' | 'running' | 'finished'): void {
    const node = pod.spec?.nodeName;
    if (node && !this.scheduled) {
      this.scheduled = true;
      this.root.setAttribute('k8s.node.name', node);
      this.pending?.addEvent('scheduled', { 'k8s.node.name': node });
    }
    if (state === 'running' && !this.running && !this.podDone) {
      this.pending?.end();
      this.pending = undefined;
      this.root.addEvent('running');
      this.running = this.tracer.startSpan('PodRunning', {}, this.rootContext);
    }
    if (state === 'finished' && !this.podDone) {
      this.podDone = true;
      this.pending?.end();
      this.pending = undefined;
      this.running?.end();
      this.running = undefined;
    }
  }

  /** The attempt's pod is done with: how it ended. */
  finished(attrs: { phase?: string; exitCode?: number | null; failure?: string }): void {
    if (this.ended) return;
    this.root.addEvent('finished', {
      ...(attrs.phase ? { 'k8s.pod.phase': attrs.phase } : {}),
      ...(attrs.exitCode !== undefined && attrs.exitCode !== null
        ? { 'pontoon.exit_code': attrs.exitCode }
        : {}),
      ...(attrs.failure ? { 'pontoon.failure': attrs.failure } : {}),
    });
    if (attrs.failure) this.root.setStatus({ code: SpanStatusCode.ERROR, message: attrs.failure });
  }

  /** Ends what is still open (every path out of the attempt calls this). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.pending?.end();
    this.running?.end();
    this.root.end();
  }
}

/** The process's global tracer: a no-op unless a tracer provider was registered. */
export function globalTracer(): Tracer {
  return trace.getTracer('pontoon');
}
