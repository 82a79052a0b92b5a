import type { OrchestrationContext } from 'durable-functions';

/**
 * Orchestration versions. A run keeps the version it started with (host.json
 * `durableTask.defaultVersion` at that time) for its whole life, so code that changes the steps a
 * waiting run would replay branches on `context.df.version`:
 *
 *   if (versionAtLeast(context, '1.1')) { ...new steps... } else { ...the steps 1.0 recorded... }
 *
 * See the README section "Changing an orchestrator safely".
 */

/** What new runs are started with; a test keeps it equal to host.json `durableTask.defaultVersion`. */
export const currentOrchestrationVersion = '1.0';

/**
 * Compares dotted numeric versions ("1.0" < "1.2" < "1.10" < "2"); missing parts count as 0. A run
 * started before versioning was switched on has no version, which sorts before every version.
 */
export function compareVersions(a: string | undefined, b: string | undefined): number {
  const parts = (v: string | undefined) => (v ?? '').split('.').filter((p) => p !== '');
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = Number(pa[i] ?? 0);
    const y = Number(pb[i] ?? 0);
    if (Number.isNaN(x) || Number.isNaN(y)) {
      // Not numeric: fall back to text order for this part, as the extension does for non-numeric versions.
      const cmp = (pa[i] ?? '').localeCompare(pb[i] ?? '');
      if (cmp !== 0) return cmp;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

/**
 * The version a run's sub-orchestrations are started with: the run's own. Named explicitly, because a
 * child started without a version gets the host's current `defaultVersion`, not its parent's
 * (durable-functions `callSubOrchestrator(name, input, instanceId, version)`: "If not specified, the
 * default version from host.json will be used"). So a 1.0 run that fans out after the deployment of 1.1
 * still starts 1.0 children, whose steps its own history expects. A run with no version (none exist:
 * versioning was on from the first release) leaves it to the host.
 */
export function childVersion(context: OrchestrationContext): string | undefined {
  const version = context.df.version;
  return version !== undefined && version !== '' ? version : undefined;
}

/** True when this run started at `minimum` or later: take the new steps. */
export function versionAtLeast(context: OrchestrationContext, minimum: string): boolean {
  return compareVersions(context.df.version, minimum) >= 0;
}
