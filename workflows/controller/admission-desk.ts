/**
 * The admission desk of a function with a concurrency limit: executions ask for a slot
 * (`requestSlot`), wait in a priority queue with aging (core/admission.ts), are granted a slot with
 * the `slotGranted` signal, hold it by renewing a lease (`renewSlot`) and give it back
 * (`releaseSlot`); a slot whose lease runs out (the execution died) is freed. `serve` is the
 * controller's main loop.
 */
import { condition, getExternalWorkflowHandle, log } from '@temporalio/workflow';
import { ADMISSION_DEFAULTS, effectivePriority, nextToAdmit } from '../../core/admission.ts';
import { parseDuration } from '../../core/duration.ts';
import { type AdmissionState, type SlotRequest, slotGrantedSignal } from '../definitions.ts';
import type { ControllerState } from './state.ts';

/** Admission decisions kept for the `admission` query (of the current run). */
const RECENT_KEPT = 50;

type Admission = NonNullable<ControllerState['admission']>;

export class AdmissionDesk {
  private readonly adm: Admission;
  private readonly recent: AdmissionState['recent'] = [];
  private dirty = true;
  /** Grants to send again (asked twice); filled by signal handlers, which may run before `serve`. */
  private readonly pendingGrants: string[] = [];

  constructor(private readonly state: ControllerState) {
    state.admission ??= { running: [], queue: [], seq: 0 };
    this.adm = state.admission;
  }

  private limit(): number | null {
    return this.state.current?.spec.spec.execution.concurrency ?? null;
  }
  private leaseMs(): number {
    return parseDuration(this.state.current?.spec.spec.execution.slotLease ?? ADMISSION_DEFAULTS.slotLease);
  }
  private agingMs(): number {
    return parseDuration(
      this.state.current?.spec.spec.execution.priorityAging ?? ADMISSION_DEFAULTS.priorityAging,
    );
  }
  private record(executionId: string, event: AdmissionState['recent'][number]['event']): void {
    this.recent.push({ at: new Date().toISOString(), executionId, event });
    if (this.recent.length > RECENT_KEPT) this.recent.shift();
  }

  /** `requestSlot`: queued, or granted again when it already holds a slot (the grant was lost). */
  request(req: SlotRequest): void {
    const adm = this.adm;
    const holder = adm.running.find((r) => r.executionId === req.executionId);
    if (holder) {
      // Asked again (e.g. the grant was lost): grant again, idempotently.
      holder.leaseExpiresAt = Date.now() + this.leaseMs();
      this.pendingGrants.push(req.executionId);
    } else if (!adm.queue.some((q) => q.executionId === req.executionId)) {
      adm.queue.push({
        executionId: req.executionId,
        priority: req.priority,
        enqueuedAt: Date.now(),
        seq: adm.seq++,
      });
      this.record(req.executionId, 'queued');
    }
    this.dirty = true;
  }

  /** `releaseSlot`: the execution gives its slot back, or its place in the queue. */
  release({ executionId }: { executionId: string }): void {
    const adm = this.adm;
    const before = adm.running.length + adm.queue.length;
    adm.running = adm.running.filter((r) => r.executionId !== executionId);
    adm.queue = adm.queue.filter((q) => q.executionId !== executionId);
    if (adm.running.length + adm.queue.length !== before) this.record(executionId, 'released');
    this.dirty = true;
  }

  /** `renewSlot`: the execution is alive and keeps its slot for another lease. */
  renew({ executionId }: { executionId: string }): void {
    const holder = this.adm.running.find((r) => r.executionId === executionId);
    if (holder) holder.leaseExpiresAt = Date.now() + this.leaseMs();
  }

  /** The `admission` query: running, queued per priority, oldest wait, recent decisions. */
  view(): AdmissionState {
    const adm = this.adm;
    const now = Date.now();
    const byPriority = { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 };
    for (const q of adm.queue) byPriority[String(q.priority) as keyof typeof byPriority]++;
    return {
      concurrency: this.limit(),
      running: adm.running.map((r) => ({
        executionId: r.executionId,
        priority: r.priority,
        admittedAt: new Date(r.admittedAt).toISOString(),
        leaseExpiresAt: new Date(r.leaseExpiresAt).toISOString(),
      })),
      queued: adm.queue.map((q) => ({
        executionId: q.executionId,
        priority: q.priority,
        effectivePriority: effectivePriority(q, now, this.agingMs()),
        enqueuedAt: new Date(q.enqueuedAt).toISOString(),
        waitingMs: now - q.enqueuedAt,
      })),
      queuedByPriority: byPriority,
      oldestWaitMs: adm.queue.reduce((m, q) => Math.max(m, now - q.enqueuedAt), 0),
      recent: this.recent,
    };
  }

  /** Signals the grant; false when the execution is gone (terminated, timed out). */
  private async grant(executionId: string): Promise<boolean> {
    try {
      await getExternalWorkflowHandle(executionId).signal(slotGrantedSignal, {
        grantedAt: new Date().toISOString(),
      });
      return true;
    } catch {
      // The execution is gone (terminated, timed out): its slot goes to the next one.
      this.record(executionId, 'gone');
      return false;
    }
  }

  /**
   * Until `done()`: wakes on a request, a release, a grant to repeat, or the next lease expiry; frees
   * expired slots, repeats grants, and admits queued executions while slots are free.
   */
  async serve(done: () => boolean): Promise<void> {
    const adm = this.adm;
    while (!done()) {
      const nextExpiry = adm.running.reduce(
        (m, r) => Math.min(m, r.leaseExpiresAt),
        Number.POSITIVE_INFINITY,
      );
      const wake = () => done() || this.dirty || this.pendingGrants.length > 0;
      if (Number.isFinite(nextExpiry)) await condition(wake, Math.max(1, nextExpiry - Date.now()));
      else await condition(wake);
      this.dirty = false;
      const now = Date.now();
      for (const expired of adm.running.filter((r) => r.leaseExpiresAt <= now)) {
        log.warn('slot lease expired without renewal; freeing it', { executionId: expired.executionId });
        this.record(expired.executionId, 'lease-expired');
      }
      adm.running = adm.running.filter((r) => r.leaseExpiresAt > now);
      for (const id of this.pendingGrants.splice(0)) await this.grant(id);
      const max = this.limit() ?? Number.POSITIVE_INFINITY;
      while (adm.running.length < max && adm.queue.length > 0) {
        const idx = nextToAdmit(adm.queue, Date.now(), this.agingMs());
        const [next] = adm.queue.splice(idx, 1);
        if (!next) break;
        if (await this.grant(next.executionId)) {
          adm.running.push({
            executionId: next.executionId,
            priority: next.priority,
            admittedAt: Date.now(),
            leaseExpiresAt: Date.now() + this.leaseMs(),
          });
          this.record(next.executionId, 'admitted');
        }
      }
    }
  }

  /** The function was deleted: every waiting execution runs with the spec it already holds. */
  async grantAllQueued(): Promise<void> {
    for (const q of this.adm.queue.splice(0)) await this.grant(q.executionId);
  }
}
