/**
 * Reads function specs from their controller workflows without turning a burst of executions into
 * a burst of queries on one workflow.
 *
 * Temporal buffers at most one query per workflow while that workflow has a task in flight and
 * answers the rest RESOURCE_EXHAUSTED ("consistent query buffer is full"); an unbuffered query is a
 * task for a worker. Hundreds of executions of one function starting together each asking their
 * controller for the spec overloaded it, and executions failed before they ran. Two rules fix it:
 *
 * - **Pinned reads** (`read(name, pin)`): the starter names the version it validated against
 *   (`{version, appliedAt}`, which identifies immutable content: an applied version never changes,
 *   and a re-created function has a new appliedAt). A copy of exactly that version in memory is
 *   used with no query at all. The API pins every execution it starts.
 * - **Current reads** (`read(name)`, or a pin not in memory): coalesced. At most one query per
 *   function is in flight per process; reads arriving while it runs share the *next* query, which
 *   starts when it ends. So every read still sees a spec at least as new as the moment it was
 *   asked (no staleness window), and a burst costs two queries instead of one per execution.
 */
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { controllerWorkflowId } from '../spec/names.ts';
import { type SpecVersion, specQuery } from '../workflows/definitions.ts';

/** Names one applied version of a function's spec. */
export interface SpecPin {
  version: number;
  appliedAt: string;
}

/** How a read was answered: from memory (pinned), by its own query, or by sharing another's. */
export type SpecReadSource = 'memory' | 'query' | 'shared';

export interface SpecReaderStats {
  /** Controller queries sent. */
  queries: number;
  /** Pinned reads answered from memory. */
  pinnedHits: number;
  /** Reads that shared a query another read had asked for. */
  shared: number;
}

interface Fetch {
  running: Promise<SpecVersion | null>;
  /** The query that starts when `running` ends, shared by every read that arrived meanwhile. */
  next?: Promise<SpecVersion | null>;
}

/** Most functions whose latest spec is kept in memory (least recently read forgotten first). */
const MAX_CACHED = 1000;

export class SpecReader {
  private readonly cache = new Map<string, SpecVersion>();
  private readonly fetches = new Map<string, Fetch>();
  readonly stats: SpecReaderStats = { queries: 0, pinnedHits: 0, shared: 0 };

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
    return this.current(name);
  }

  private current(name: string): Promise<SpecVersion | null> {
    const f = this.fetches.get(name);
    if (!f) return this.launch(name);
    this.stats.shared++;
    this.onRead('shared');
    if (!f.next) {
      const after = () => this.launch(name);
      f.next = f.running.then(after, after);
    }
    return f.next;
  }

  private launch(name: string): Promise<SpecVersion | null> {
    this.stats.queries++;
    this.onRead('query');
    const slot: Fetch = {
      running: this.query(name).finally(() => {
        // A queued read takes the slot over when it launches; otherwise the function is idle again.
        if (this.fetches.get(name) === slot && !slot.next) this.fetches.delete(name);
      }),
    };
    this.fetches.set(name, slot);
    return slot.running;
  }

  private async query(name: string): Promise<SpecVersion | null> {
    let current: SpecVersion | null;
    try {
      current = await this.client.workflow.getHandle(controllerWorkflowId(name)).query(specQuery);
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
