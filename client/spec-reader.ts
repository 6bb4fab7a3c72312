/**
 * Reads function specs from their controller workflows without turning a burst of executions into
 * a burst of queries on one workflow.
 *
 * Temporal buffers at most one query per workflow while that workflow has a task in flight and
 * answers the rest RESOURCE_EXHAUSTED ("consistent query buffer is full"), which clients retry with
 * backoff; a query is also a task for a worker. Hundreds of executions of one function starting
 * together, each asking their controller for the spec, overloaded it and executions failed.
 *
 * **Pinned reads** (`read(name, pin)`): the starter names the version it validated against
 * (`{version, appliedAt}`, which identifies immutable content: an applied version never changes,
 * and a re-created function has a new appliedAt). A copy of exactly that version in memory is used
 * with no query at all. The API pins every execution it starts. Other reads query the controller.
 *
 * Tried and withdrawn: sharing one in-flight query among concurrent unpinned reads. While the shared
 * query waited (buffered behind a busy controller, then backing off), every execution waiting on it
 * held a workflow task slot, so the worker stopped polling, and the controller's own tasks (which
 * answer the query) could not run: admission tests slowed 3–4× and a query failed "no poller seen".
 * Independent queries fail and succeed independently. Reading the spec without a query (the
 * controller's memo, through DescribeWorkflowExecution) is the fix for unpinned starts; not built.
 */
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { SpecVersion } from '../workflows/definitions.ts';
import { getSpec } from './functions.ts';

/** Names one applied version of a function's spec. */
export interface SpecPin {
  version: number;
  appliedAt: string;
}

/** How a read was answered: from memory (pinned) or by a query to the controller. */
export type SpecReadSource = 'memory' | 'query';

export interface SpecReaderStats {
  /** Controller queries sent. */
  queries: number;
  /** Pinned reads answered from memory. */
  pinnedHits: number;
}

/** Most functions whose latest spec is kept in memory (least recently read forgotten first). */
const MAX_CACHED = 1000;

export class SpecReader {
  private readonly cache = new Map<string, SpecVersion>();
  readonly stats: SpecReaderStats = { queries: 0, pinnedHits: 0 };

  constructor(
    private readonly client: Client,
    private readonly onRead: (source: SpecReadSource) => void = () => {},
  ) {}

  /**
   * The spec of `name`: the pinned version when it is in memory, else the current one (null when
   * the function does not exist). A pin that is not current any more yields the current spec.
   */
  async read(name: string, pin?: SpecPin): Promise<SpecVersion | null> {
    if (pin) {
      const known = this.cache.get(name);
      if (known && known.version === pin.version && known.appliedAt === pin.appliedAt) {
        this.stats.pinnedHits++;
        this.onRead('memory');
        this.touch(name, known);
        return known;
      }
    }
    this.stats.queries++;
    this.onRead('query');
    let current: SpecVersion | null;
    try {
      current = await getSpec(this.client, name);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      current = null;
    }
    if (current) this.touch(name, current);
    else this.cache.delete(name);
    return current;
  }

  private touch(name: string, value: SpecVersion) {
    this.cache.delete(name);
    this.cache.set(name, value);
    if (this.cache.size > MAX_CACHED) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }
}
