/**
 * The version a new sub-orchestration gets: the one the orchestrator asked for, or else the worker's
 * current `defaultVersion` (host.json `extensions.durableTask.defaultVersion`) - never the parent's.
 * That is the extension's rule: durable-functions 3.x documents `callSubOrchestrator(name, input,
 * instanceId, version)` as "If not specified, the default version from host.json will be used"
 * (Azure/azure-functions-durable-js `types/orchestration.d.ts`), and the Durable Functions worker applies
 * host.json's defaultVersion to "any sub orchestration created by the worker that does not already have a
 * version specified" (microsoft/durabletask-java issue #240, fixed in PR #241; Learn: "Orchestration
 * versioning in Durable Functions",
 * https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-orchestration-versioning).
 * So after a version bump, a run started on the old version that creates children without naming a
 * version creates children of the new version.
 */
export function childVersion(asked: string | undefined, defaultVersion: string | undefined): string {
  return asked ?? defaultVersion ?? '';
}

/**
 * Orders versions as the Durable Task SDKs do: empty is oldest; dotted numbers compare as numbers; anything
 * else compares as text, ignoring case.
 */
export function compareVersions(a: string, b: string): number {
  if (a.trim() === '' && b.trim() === '') return 0;
  if (a.trim() === '') return -1;
  if (b.trim() === '') return 1;
  if (a === b) return 0;
  // System.Version's form: two to four dotted numbers ('1' alone is compared as text).
  const numeric = /^\d+(\.\d+){1,3}$/;
  if (numeric.test(a) && numeric.test(b)) {
    const left = a.split('.').map(Number);
    const right = b.split('.').map(Number);
    for (let i = 0; i < Math.max(left.length, right.length); i++) {
      const difference = (left[i] ?? -1) - (right[i] ?? -1);
      if (difference !== 0) return Math.sign(difference);
    }
    return 0;
  }
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}
