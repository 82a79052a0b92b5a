/** The actions an orchestrator returns (out-of-process protocol, schema V2 and later). */
export enum ActionType {
  CallActivity = 0,
  CallActivityWithRetry = 1,
  CallSubOrchestrator = 2,
  CallSubOrchestratorWithRetry = 3,
  ContinueAsNew = 4,
  CreateTimer = 5,
  WaitForExternalEvent = 6,
  CallEntity = 7,
  CallHttp = 8,
  SignalEntity = 9,
  WhenAny = 11,
  WhenAll = 12,
  LockEntities = 13,
  ReleaseEntities = 14,
}

export interface OrchestratorAction {
  actionType: ActionType;
  functionName?: string;
  input?: unknown;
  retryOptions?: {
    firstRetryIntervalInMilliseconds?: number;
    maxNumberOfAttempts?: number;
    backoffCoefficient?: number;
    maxRetryIntervalInMilliseconds?: number;
    retryTimeoutInMilliseconds?: number;
  };
  instanceId?: string;
  /** Sub-orchestrations: the version asked for (host.json `defaultVersion` when absent, see versions.ts). */
  version?: string;
  fireAt?: string;
  isCanceled?: boolean;
  externalEventName?: string;
  operation?: string;
  compoundActions?: OrchestratorAction[];
  httpRequest?: {
    method?: string;
    uri?: string;
    content?: string;
    headers?: Record<string, string>;
    asynchronousPatternEnabled?: boolean;
    /** `new df.ManagedIdentityTokenSource(resource)`: the host adds a bearer token for that resource. */
    tokenSource?: { resource?: string; kind?: string };
  };
}

/** What the orchestrator function returns (or carries in its failure). */
export interface OrchestratorState {
  isDone: boolean;
  actions?: OrchestratorAction[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
  schemaVersion?: number;
}

/**
 * Leaf actions in the order the SDK numbers their tasks: `Task.all` / `Task.any` children depth-first.
 * The host schedules by position in this list, so each action is scheduled exactly once.
 */
export function flattenActions(actions: OrchestratorAction[]): OrchestratorAction[] {
  const flat: OrchestratorAction[] = [];
  const walk = (list: OrchestratorAction[]) => {
    for (const action of list) {
      if (action.actionType === ActionType.WhenAll || action.actionType === ActionType.WhenAny) {
        walk(action.compoundActions ?? []);
      } else {
        flat.push(action);
      }
    }
  };
  walk(actions);
  return flat;
}

/**
 * The JSON text of an action's input. CallActivity, CallActivityWithRetry and ContinueAsNew inputs arrive
 * already JSON-encoded when they are strings (the SDK's processInput); every other input is a raw value.
 */
export function actionInputJson(action: OrchestratorAction): string | null {
  if (action.input === undefined) return null;
  const preEncoded =
    action.actionType === ActionType.CallActivity ||
    action.actionType === ActionType.CallActivityWithRetry ||
    action.actionType === ActionType.ContinueAsNew;
  if (preEncoded && typeof action.input === 'string') return action.input;
  return JSON.stringify(action.input);
}
