/**
 * What the parts of the engine (episodes, runners, entity batches) need from it: the store, the app's
 * functions, the log, host.json's settings, and the scheduler's wake-ups. `DurableEngine` provides it.
 */
import { type DurableTaskSettings } from '../functions/loader';
import { type FunctionsRuntime } from '../functions/runtime';
import { type HostLog } from '../log';
import { type DurableStore, type InstanceMessage, type OrchestrationRecord, type WorkItem } from './store';

/** The extension's limits and versioning settings, as the host reads them from host.json. */
export type EngineOptions = DurableTaskSettings;

/** A counting semaphore: at most `limit` holders at once, the rest wait in arrival order. */
export class Limiter {
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  constructor(readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active++;
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }
}

export interface EngineContext {
  readonly store: DurableStore;
  readonly runtime: FunctionsRuntime;
  readonly log: HostLog;
  readonly options: EngineOptions;
  /** Activity functions by lower-cased name. */
  readonly activities: ReadonlyMap<string, string>;
  /** Entity functions by lower-cased name. */
  readonly entities: ReadonlyMap<string, string>;
  /** Instances the host has already said it will not run for their version (said once each). */
  readonly rejectedVersions: Set<string>;
  /** host.json maxConcurrentActivityFunctions. */
  readonly activityLimit: Limiter;
  /** The engine is stopping: start nothing new, store no more answers. */
  stopped(): boolean;
  /** Runs the next episode of an instance or entity (now, or right after the one running). */
  wake(id: string): void;
  /** Arms one wake-up for the earliest future message (durable timers). */
  armWake(id: string, messages: InstanceMessage[]): void;
  /** Starts the work an episode stored, and wakes the instances it sent messages to. */
  afterCommit(items: WorkItem[], wake: Iterable<string>): void;
  startOrchestration(
    name: string,
    instanceId: string | undefined,
    inputJson: string | null,
    parent?: OrchestrationRecord['parent'],
    version?: string,
  ): Promise<string>;
}
