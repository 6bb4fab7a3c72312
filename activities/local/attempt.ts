/**
 * One attempt on the local runtime, end to end. On demand: the reap of what a lost worker left
 * (sweep.ts), then launch (launch.ts), await (await.ts), collect (collect.ts), finish (finish.ts);
 * warm: a call on a replica (warm.ts), then finish. A retried activity adopts the outcome its
 * predecessor recorded in the attempt folder before it runs anything (the rules are at the top of
 * runtime.ts).
 */
import type { Logger } from 'pino';
import type { AttemptOutcome, AttemptRequest } from '../../core/execution.ts';
import { attemptDir } from '../../logs/dir.ts';
import type { AttemptControl } from '../runtime.ts';
import { awaitProcess } from './await.ts';
import { collect } from './collect.ts';
import { keepWarmLog, recordedOutcome, recordOutcome } from './finish.ts';
import { type LaunchParts, launchProcess } from './launch.ts';
import type { LocalSweeper } from './sweep.ts';
import type { LocalWarmPools } from './warm.ts';

/** What an attempt uses of the runtime: its settings and its other parts. */
export interface AttemptParts extends LaunchParts {
  /** Attempt folders live under it (logs/dir.ts attemptDir). */
  dataDir: string;
  /** SIGTERM → SIGKILL grace on the attempt's timeout or cancellation. */
  killGraceMs: number;
  logger: Logger;
  warm: Pick<LocalWarmPools, 'runWarmAttempt'>;
  sweeper: Pick<LocalSweeper, 'reapExecution'>;
}

/** `runAttempt` of the local runtime (FunctionRuntime.runAttempt), over its parts. */
export function createAttemptRunner(
  parts: AttemptParts,
): (req: AttemptRequest, control: AttemptControl) => Promise<AttemptOutcome> {
  return (req, control) => new ProcessAttempt(parts, req, control).run();
}

/** One attempt's process (on demand) or call on a warm replica, from launch to the recorded outcome. */
class ProcessAttempt {
  private readonly log: Logger;
  /** The attempt's folder: its PONTOON_DIR, log, pid file, exit status and record. */
  private readonly dir: string;
  /** Only a retried activity has a predecessor (the first try of a reused execution id starts afresh). */
  private readonly retried: boolean;

  constructor(
    private readonly parts: AttemptParts,
    private readonly req: AttemptRequest,
    private readonly control: AttemptControl,
  ) {
    this.log = parts.logger.child({
      executionId: req.executionId,
      function: req.function,
      attempt: req.attempt,
    });
    this.dir = attemptDir(parts.dataDir, req.executionId, req.attempt);
    this.retried = (control.activityAttempt ?? 1) > 1;
  }

  run(): Promise<AttemptOutcome> {
    return this.req.spec.spec.execution.mode === 'warm' ? this.runWarm() : this.runProcess();
  }

  private async runWarm(): Promise<AttemptOutcome> {
    const adopted = await this.adoptRecorded();
    if (adopted) return adopted;
    const outcome = await this.parts.warm.runWarmAttempt(this.req, this.control);
    await keepWarmLog(this.dir, outcome.logTail);
    return this.record(outcome);
  }

  private async runProcess(): Promise<AttemptOutcome> {
    const { req, dir, log, parts } = this;
    await parts.sweeper.reapExecution(req.executionId);
    // After the reap nothing of a lost run is alive: a status recorded now is final. Its function
    // finished, so this attempt is done: report that outcome rather than run the function again.
    const adopted = await this.adoptRecorded();
    if (adopted) return adopted;
    const launched = await launchProcess(parts, req, dir, log);
    if ('failure' in launched) {
      return this.record({
        exitCode: null,
        startedAt: launched.startedAt,
        endedAt: new Date().toISOString(),
        logTail: '',
        failure: launched.failure,
      });
    }
    const verdict = await awaitProcess(launched, {
      dir,
      startedAt: launched.startedAt,
      timeoutMs: req.timeoutMs,
      killGraceMs: parts.killGraceMs,
      control: this.control,
    });
    return this.record(await collect(req, dir, verdict, launched.startedAt, parts.runAs, log));
  }

  /** A retried activity: the outcome a lost worker recorded for this attempt, if any (finish.ts). */
  private async adoptRecorded(): Promise<AttemptOutcome | undefined> {
    if (!this.retried) return undefined;
    const recorded = await recordedOutcome(this.req, this.dir, this.control.runId, this.parts.runAs);
    if (recorded) {
      this.log.warn(
        { exitCode: recorded.exitCode },
        'adopted the outcome of this attempt recorded by a lost worker',
      );
    }
    return recorded;
  }

  private record(outcome: AttemptOutcome): Promise<AttemptOutcome> {
    return recordOutcome(this.dir, outcome, this.control.runId, this.log);
  }
}
