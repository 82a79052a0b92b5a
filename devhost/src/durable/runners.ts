/**
 * The work an episode schedules, run once it is stored: activities (through the app's functions, within
 * host.json's maxConcurrentActivityFunctions), the built-in HTTP activity with its 202 polling, and
 * sub-orchestration starts. Each answer is stored with the work item's removal in one step.
 */
import { type OrchestratorAction } from './actions';
import { type EngineContext } from './context';
import { EventType } from './history';
import { answer } from './scheduling';
import { type NewInstanceMessage, type WorkItem } from './store';
import { resultJson } from './values';
import { describeError, errorMessage } from '../log';

export async function runWork(ctx: EngineContext, item: WorkItem): Promise<void> {
  let result: NewInstanceMessage | undefined;
  try {
    if (item.kind === 'activity') result = await runActivity(ctx, item);
    else if (item.kind === 'http') result = await runHttpCall(ctx, item, item.request);
    else result = await startChild(ctx, item);
  } catch (error) {
    ctx.log.error(`Running ${item.kind} work for '${item.instanceId}' failed: ${describeError(error)}`);
    return;
  }
  // Stopping: the answer is not stored, so the work item stays and runs again at the next start.
  if (ctx.stopped()) return;
  await ctx.store.completeWork(item.id, result);
  if (result) ctx.wake(item.instanceId);
}

/** Starts a sub-orchestration; after a restart, one that was already created is not created again. */
async function startChild(
  ctx: EngineContext,
  item: WorkItem & { kind: 'child' },
): Promise<NewInstanceMessage | undefined> {
  const existing = await ctx.store.getInstance(item.childInstanceId);
  const parent = existing?.parent;
  if (
    parent &&
    parent.instanceId === item.instanceId &&
    parent.executionId === item.executionId &&
    parent.taskScheduledId === item.taskId
  ) {
    return undefined;
  }
  try {
    await ctx.startOrchestration(
      item.name,
      item.childInstanceId,
      item.input,
      { instanceId: item.instanceId, taskScheduledId: item.taskId, executionId: item.executionId },
      item.version,
    );
    return undefined;
  } catch (error) {
    return answer(item, EventType.SubOrchestrationInstanceFailed, item.taskId, {
      Reason: errorMessage(error),
      Details: '',
    });
  }
}

async function runActivity(
  ctx: EngineContext,
  item: WorkItem & { kind: 'activity' },
): Promise<NewInstanceMessage> {
  const { name, input, taskId } = item;
  const functionName = ctx.activities.get(name.toLowerCase());
  const registered = functionName ? ctx.runtime.functions.get(functionName) : undefined;
  if (!functionName || !registered) {
    return answer(item, EventType.TaskFailed, taskId, {
      Reason: `The function '${name}' doesn't exist, is disabled, or is not an activity function.`,
      Details: `Activities in this app: ${[...ctx.activities.values()].join(', ') || 'none'}.`,
    });
  }
  const outcome = await ctx.activityLimit.run(() =>
    ctx.runtime.invoke(functionName, [{ name: registered.triggerKey, data: { string: input ?? 'null' } }], {
      reason: '(null)',
      triggerMetadata: { instanceId: { json: JSON.stringify(item.instanceId) } },
    }),
  );
  return outcome.ok
    ? answer(item, EventType.TaskCompleted, taskId, { Result: resultJson(outcome.response) })
    : answer(item, EventType.TaskFailed, taskId, {
        Reason: `Activity function '${functionName}' failed: ${errorMessage(outcome.error)}`,
        Details: describeError(outcome.error),
      });
}

/** The built-in HTTP activity, following 202 + Location polling itself as the extension does. */
async function runHttpCall(
  ctx: EngineContext,
  instance: WorkItem,
  request: NonNullable<OrchestratorAction['httpRequest']>,
): Promise<NewInstanceMessage> {
  const taskId = instance.taskId;
  let outcome: NewInstanceMessage;
  try {
    let url = request.uri ?? '';
    let method = request.method ?? 'GET';
    let body: string | undefined = request.content;
    const headers: Record<string, string> = { ...request.headers };
    const resource = request.tokenSource?.resource;
    if (resource) headers.Authorization = `Bearer ${await accessToken(resource)}`;
    for (;;) {
      const response = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
      });
      const location = response.headers.get('location');
      if (
        response.status === 202 &&
        location &&
        request.asynchronousPatternEnabled !== false &&
        !ctx.stopped()
      ) {
        const retryAfter = Number(response.headers.get('retry-after') ?? '');
        await new Promise((resolve) =>
          setTimeout(resolve, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 1000),
        );
        url = new URL(location, url).href;
        method = 'GET';
        body = undefined;
        continue;
      }
      const responseHeaders: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        responseHeaders[name] = value;
      });
      const content = await response.text();
      outcome = answer(instance, EventType.TaskCompleted, taskId, {
        Result: JSON.stringify({ statusCode: response.status, headers: responseHeaders, content }),
      });
      break;
    }
  } catch (error) {
    outcome = answer(instance, EventType.TaskFailed, taskId, {
      Reason: `Http request to ${request.uri ?? '(no uri)'} failed: ${errorMessage(error)}`,
      Details: describeError(error),
    });
  }
  return outcome;
}

/**
 * A token for `callHttp` with a ManagedIdentityTokenSource, got as the extension gets it: from
 * DefaultAzureCredential (locally: environment, Azure CLI, azd... logins). The two well-known resources get
 * `/.default` appended, others are used as the scope as given. Without credentials the call fails and
 * nothing is sent, as on the real host.
 */
async function accessToken(resource: string): Promise<string> {
  const wellKnown = ['https://management.core.windows.net', 'https://graph.microsoft.com'];
  const bare = resource.replace(/\/$/, '');
  const scope = wellKnown.includes(bare) ? `${bare}/.default` : resource;
  const { DefaultAzureCredential } = await import('@azure/identity');
  const token = await new DefaultAzureCredential().getToken(scope);
  return token.token;
}
