/**
 * Reads function specs without putting any work on their controller workflows, so a burst of
 * executions of one function (an SDK or `temporal` CLI loop, a schedule, the API) costs the
 * controller nothing.
 *
 * Why not the spec query: Temporal buffers at most one query per workflow while that workflow has
 * a task in flight and answers the rest RESOURCE_EXHAUSTED ("consistent query buffer is full"),
 * which clients retry with backoff; and every query is a workflow task of the controller on a
 * worker, inside the first workflow task of the execution that asked.
 *
 * **Where the spec is read**: the controller publishes its current version in its memo
 * (`SPEC_MEMO_KEY`, `{current}`) in the same workflow task that applies or deletes it, and at the
 * start of each run. `DescribeWorkflowExecution` of `fn:<function>` returns it from the server's
 * mutable state: strongly consistent (an apply whose Update returned is seen), no workflow task, no
 * query buffer. A deleted function's memo says `current: null` (published before its controller
 * completes); a controller closed another way (terminated, failed) keeps its last spec, as the
 * query on a closed workflow answered. A controller without the
 * memo key (started before it existed and not re-run since) is asked with the query, as before:
 * counted apart (`query`), so it shows.
 *
 * **Pinned reads** (`read(name, pin)`): the starter names the version it validated against
 * (`{version, appliedAt}`, which identifies immutable content: an applied version never changes,
 * and a re-created function has a new appliedAt). A copy of exactly that version in memory is used
 * with no call at all. The API pins every execution it starts; a pin this worker does not hold
 * reads the memo like an unpinned read.
 *
 * **Unpinned reads, coalesced**: concurrent reads of one function share one describe, but only one
 * sent after they arrived (a read that arrives while a describe is in flight waits for the next,
 * which all reads arriving meanwhile share). So a read never returns a version older than the one
 * current when it was asked — "the pinned version or a newer one, never older" — and a burst of
 * N unpinned starts costs about N ÷ (reads per describe round-trip) describes, not N queries.
 * Sharing a *query* was tried and withdrawn (executions waiting on it held workflow task slots
 * while the query waited behind the controller's own tasks); a describe needs no worker, so no
 * wait can form a cycle.
 */
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { controllerWorkflowId } from '../core/names.ts';
import { SPEC_MEMO_KEY, type SpecMemo, type SpecVersion } from '../workflows/definitions.ts';
import { getSpec } from './functions.ts';

/** Names one applied version of a function's spec. */
export interface SpecPin {
  version: number;
  appliedAt: string;
}

/**
 * How a read was answered: from memory (a pinned version held), from the controller's memo
 * (DescribeWorkflowExecution, no workflow task), or by the spec query (controllers without the memo).
 */
export type SpecReadSource = 'memory' | 'memo' | 'query';

export interface SpecReaderStats {
  /** Spec queries sent to controllers (only those without the memo). */
  queries: number;
  /** DescribeWorkflowExecution calls sent (one answers every read that joined it). */
  describes: number;
  /** Reads answered by a describe, shared or not. */
  memoReads: number;
  /** Pinned reads answered from memory. */
  pinnedHits: number;
}

/** Most functions whose latest spec is kept in memory (least recently read forgotten first). */
const MAX_CACHED = 1000;

/** What the controller shows of its spec: a version, none, or no memo (a controller before it). */
type Described = { spec: SpecVersion | null } | { legacy: true };

interface Flights {
  /** The describe in flight (sent before some current readers arrived: they may not join it). */
  sent?: Promise<Described>;
  /** The next describe, sent when `sent` ends: every read arriving meanwhile joins it. */
  queued?: Promise<Described>;
}

export class SpecReader {
  private readonly cache = new Map<string, SpecVersion>();
  private readonly flights = new Map<string, Flights>();
  readonly stats: SpecReaderStats = { queries: 0, describes: 0, memoReads: 0, pinnedHits: 0 };

  constructor(
    private readonly client: Client,
    private readonly onRead: (source: SpecReadSource) => void = () => {},
    private readonly onDescribe: () => void = () => {},
  ) {}

  /**
   * The spec of `name`: the pinned version when it is in memory, else the current one (null when
   * the function does not exist). A pin that is not current any more yields the current spec,
   * which is newer (or belongs to a re-created function, whose appliedAt differs).
   * Throws what the client throws for anything but a missing controller (Temporal unavailable…).
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
    const described = await this.describeCoalesced(name);
    let current: SpecVersion | null;
    if ('legacy' in described) {
      this.stats.queries++;
      this.onRead('query');
      try {
        current = await getSpec(this.client, name);
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        current = null;
      }
    } else {
      this.stats.memoReads++;
      this.onRead('memo');
      current = described.spec;
    }
    if (current) {
      // Keep one object per version (many executions hold it).
      const known = this.cache.get(name);
      if (known && known.version === current.version && known.appliedAt === current.appliedAt)
        current = known;
      this.touch(name, current);
    } else this.cache.delete(name);
    return current;
  }

  /** A describe sent after this call, shared with every other read that may share it. */
  private describeCoalesced(name: string): Promise<Described> {
    let f = this.flights.get(name);
    if (!f) {
      f = {};
      this.flights.set(name, f);
    }
    const flights = f;
    const send = (): Promise<Described> => {
      const p = this.describe(name).finally(() => {
        if (flights.sent === p) flights.sent = undefined;
        if (!flights.sent && !flights.queued && this.flights.get(name) === flights) this.flights.delete(name);
      });
      flights.sent = p;
      return p;
    };
    if (!flights.sent) return send();
    if (flights.queued) return flights.queued;
    const queued = flights.sent
      .catch(() => undefined)
      .then(() => {
        flights.queued = undefined;
        return send();
      });
    flights.queued = queued;
    return queued;
  }

  private async describe(name: string): Promise<Described> {
    this.stats.describes++;
    this.onDescribe();
    let d: Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['describe']>>;
    try {
      d = await this.client.workflow.getHandle(controllerWorkflowId(name)).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { spec: null };
      throw err;
    }
    // The memo says, whatever the run's status: a delete publishes `current: null` before the
    // controller completes, and a re-created function is a new run, which describe returns. A
    // controller closed any other way (terminated by an operator, failed) keeps its last spec, as the
    // query answered on a closed workflow did: executions of a function nobody deleted keep running.
    const memo = d.memo?.[SPEC_MEMO_KEY] as SpecMemo | undefined;
    if (!memo || typeof memo !== 'object' || !('current' in memo)) return { legacy: true };
    return { spec: memo.current };
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
