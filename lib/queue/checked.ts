// Jobs as stored in Redis are read back by BullMQ with JSON.parse; a job whose data is not valid
// JSON (written by another tool, or damaged) made the worker's fetch throw in a loop while the
// job stayed active, and made every listing fail. Our queues and workers read such a job as data
// of kind 'invalid' instead: the worker fails it once with the reason, and `jobs` lists it.
import { Job, Queue, Worker, type JobJson, type MinimalQueue } from 'bullmq';

/** What the data of a job whose stored data is not valid JSON reads as. */
export interface InvalidJobData {
  kind: 'invalid';
  reason: string;
}

/** BullMQ's Job, reading data that is not valid JSON as InvalidJobData. */
export class CheckedJob extends Job {
  static override fromJSON<T = unknown, R = unknown, N extends string = string>(queue: MinimalQueue, json: JobJson, jobId?: string): Job<T, R, N> {
    try {
      return super.fromJSON(queue, json, jobId);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      const data: InvalidJobData = { kind: 'invalid', reason: `job data is not valid JSON (${err.message})` };
      return super.fromJSON(queue, { ...json, data: JSON.stringify(data) }, jobId);
    }
  }
}

/** A Queue whose jobs are CheckedJobs. */
export class CheckedQueue extends Queue {
  protected override get Job(): typeof Job {
    return CheckedJob as unknown as typeof Job;
  }
}

/** A Worker whose jobs are CheckedJobs. */
export class CheckedWorker<D = unknown> extends Worker<D> {
  protected override get Job(): typeof Job {
    return CheckedJob as unknown as typeof Job;
  }
}
