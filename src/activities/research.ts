import { createHash } from 'node:crypto';
import type { InvocationContext } from '@azure/functions';
import type {
  Agent,
  AgentsClient,
  MessageTextUrlCitationAnnotation,
  ThreadMessage,
  ThreadRun,
} from '@azure/ai-agents';
import { ToolUtility } from '@azure/ai-agents';
import { isRestError } from '@azure/core-rest-pipeline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppClients } from '../clients';
import type { AppConfig } from '../config';
import type { ModelUsage } from '../contracts/model';
import {
  researchHandleSchema,
  researchRunStatuses,
  startResearchInputSchema,
  type Citation,
  type CollectResearchInput,
  type CollectResearchOutput,
  type PollResearchOutput,
  type ResearchHandle,
  type ResearchRunStatus,
  type StartResearchInput,
  type StartResearchOutput,
} from '../contracts/research';
import { PermanentError, RateLimitedError, RetryableError, retryAfterMsFrom, toOutcome } from '../lib/errors';
import { keptResearchResults } from '../lib/keptResearch';

/**
 * Research sub-agents on the Azure AI Foundry Agent Service, with Bing grounding. Each activity makes a
 * few quick calls and returns: the orchestrator polls on durable timers, so nothing here waits for the
 * agent (no createAndPoll).
 */
export interface ResearchDeps {
  clients: AppClients;
  config: AppConfig;
  now?: () => number;
}

/** The agents' name prefix; the full name adds a hash of the agent's definition (see researchAgentFor). */
export const researchAgentName = 'durable-agent-runs-research';

/** How far back startResearch looks for a thread an earlier attempt created; far beyond any retry window. */
const earlierThreadLookbackMs = 6 * 60 * 60_000;

/** How long stopping a research run waits for the service to move it from `cancelling` to `cancelled`. */
const cancelWaitMs = 10_000;

export const researchInstructions = [
  'You are a research assistant. Search the web with Bing to answer the query with current, verifiable facts.',
  'Be concise: a short summary followed by the key facts, at most about 250 words.',
  'Cite the source of every fact. If sources disagree or nothing reliable is found, say so plainly.',
  'Never invent sources or facts.',
].join('\n');

const terminalStatuses: ReadonlySet<ResearchRunStatus> = new Set([
  'cancelled',
  'failed',
  'completed',
  'incomplete',
  'expired',
]);

export function createStartResearch(
  deps: ResearchDeps,
): (input: StartResearchInput, context: InvocationContext) => Promise<StartResearchOutput> {
  const { config } = deps;
  const now = deps.now ?? Date.now;
  // One agent per definition, found by name across processes and deploys; looked up once per process,
  // and a failed lookup is forgotten so the next call tries again.
  let agentId: Promise<string> | undefined;
  const ensureAgent = (client: AgentsClient, bingConnectionId: string): Promise<string> => {
    agentId ??= findOrCreateAgent(
      client,
      researchAgentFor(config.openai.fastDeployment, bingConnectionId),
    ).catch((error: unknown) => {
      agentId = undefined;
      throw error;
    });
    return agentId;
  };

  return async (input, context) => {
    try {
      const client = deps.clients.agents;
      if (!config.agents || !client) {
        throw new PermanentError(
          'Research is not configured: set AZURE_AI_PROJECT_ENDPOINT (the Azure AI Foundry project endpoint) and BING_CONNECTION_ID (its Bing grounding connection) to enable research subtasks.',
        );
      }
      const parsed = startResearchInputSchema.safeParse(input);
      if (!parsed.success) {
        throw new PermanentError(
          `startResearch input is invalid: ${parsed.error.issues.map((i) => i.message).join('; ')}`,
        );
      }
      const id = await ensureAgent(client, config.agents.bingConnectionId).catch((error: unknown) => {
        throw classifyAgentsError(
          error,
          `creating the research agent on model deployment ${config.openai.fastDeployment}`,
          now(),
        );
      });
      const { runId, subtaskId, maxPromptTokens, maxCompletionTokens } = parsed.data;
      // The service stops a run that reaches either limit (status incomplete), so research cannot spend
      // past what the run's budget gave it.
      const limits = {
        ...(maxPromptTokens !== undefined ? { maxPromptTokens } : {}),
        ...(maxCompletionTokens !== undefined ? { maxCompletionTokens } : {}),
      };
      // Lets a retry find what an earlier attempt started (its reply may have been lost), a person find
      // the thread of a run in the Foundry portal, and a leaked one be traced.
      const earlier = await findEarlierThread(client, metadataFor(runId, subtaskId), now());
      let run: ThreadRun;
      if (earlier?.run) {
        run = earlier.run;
        context.log(`Found research run ${run.id} on thread ${run.threadId} for ${runId}/${subtaskId}.`);
      } else if (earlier) {
        run = await client.runs.create(earlier.threadId, id, limits);
        context.log(
          `Started research run ${run.id} on the earlier thread ${run.threadId} for ${runId}/${subtaskId}.`,
        );
      } else {
        run = await client.runs.createThreadAndRun(id, {
          thread: {
            messages: [{ role: 'user', content: parsed.data.query }],
            metadata: metadataFor(runId, subtaskId),
          },
          ...limits,
        });
        context.log(`Started research run ${run.id} on thread ${run.threadId} for ${runId}/${subtaskId}.`);
      }
      return {
        ok: true,
        value: {
          threadId: run.threadId,
          agentRunId: run.id,
          agentId: run.assistantId || id,
          runId,
          subtaskId,
        },
      };
    } catch (error) {
      return toOutcome<ResearchHandle>(classifyAgentsError(error, 'starting a research run', now()));
    }
  };
}

export function createPollResearch(
  deps: ResearchDeps,
): (input: ResearchHandle, context: InvocationContext) => Promise<PollResearchOutput> {
  const now = deps.now ?? Date.now;
  return async (input) => {
    try {
      const { client, handle } = checkHandle(deps, input);
      const run = await client.runs.get(handle.threadId, handle.agentRunId);
      const status = toStatus(run.status);
      const usage = toUsage(run);
      const error = runProblem(run);
      return { ok: true, value: { status, ...(usage ? { usage } : {}), ...(error ? { error } : {}) } };
    } catch (error) {
      return toOutcome(classifyAgentsError(error, `polling research run ${input?.agentRunId}`, now()));
    }
  };
}

/**
 * Reads the agent's answer and deletes the thread. Also the clean-up after a failed or abandoned run:
 * a run still going is cancelled first, so the thread can be deleted.
 */
export function createCollectResearch(
  deps: ResearchDeps,
): (input: CollectResearchInput, context: InvocationContext) => Promise<CollectResearchOutput> {
  const now = deps.now ?? Date.now;
  const kept = keptResearchResults(deps.clients.blobService, deps.config.resultsContainer);
  return async (input, context) => {
    try {
      const { client, handle } = checkHandle(deps, input);
      const deleteThread = () =>
        client.threads.delete(handle.threadId).catch((error: unknown) => {
          // The answer is already read and kept; a thread left behind is not worth failing the subtask for.
          if (!(isRestError(error) && error.statusCode === 404)) {
            context.warn(`Could not delete research thread ${handle.threadId}: ${describe(error)}`);
          }
        });
      const key = kept.keyOf(handle);
      // A rerun (the reply was lost, or the thread is already gone) gives the answer collected the first time.
      const earlier = key ? await kept.read(key) : undefined;
      if (earlier) {
        await deleteThread();
        return { ok: true, value: earlier };
      }
      // A run the orchestrator saw complete needs no second read; any other is cancelled before the thread goes.
      let usage = input.completedUsage;
      if (!usage) {
        const run = await client.runs.get(handle.threadId, handle.agentRunId);
        let last = run;
        if (!terminalStatuses.has(toStatus(run.status))) {
          // The cancelled run reports what it spent up to the cancel.
          last = await client.runs.cancel(handle.threadId, handle.agentRunId).catch((error: unknown) => {
            context.warn(`Could not cancel research run ${handle.agentRunId}: ${describe(error)}`);
            return run;
          });
        }
        usage = toUsage(last);
      }
      const messages: ThreadMessage[] = [];
      for await (const message of client.messages.list(handle.threadId, {
        runId: handle.agentRunId,
        order: 'asc',
      })) {
        messages.push(message);
      }
      const { text, citations } = answerWithCitations(messages);
      const value = {
        text,
        citations,
        usage: usage ?? { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
      };
      // Kept before the thread goes: after the delete, nothing else could answer a rerun.
      if (key) await kept.write(key, value);
      await deleteThread();
      return { ok: true, value };
    } catch (error) {
      return toOutcome(classifyAgentsError(error, `collecting research run ${input?.agentRunId}`, now()));
    }
  };
}

/** Stops what a stopped run's research subtask left running; see createStopResearch. */
export type StopResearch = (
  runId: string,
  subtaskId: string,
  log: (message: string) => void,
) => Promise<ModelUsage | undefined>;

/**
 * The clean-up after a run was stopped while one of its research subtasks was out (cancellation, the
 * reconciler): the Agent Service run the subtask started, found by its metadata as startResearch finds
 * it, is cancelled and waited for until the service says `cancelled`; what it had written is kept as
 * its collected result (so the run view, and a collection that still comes, read the same usage); and
 * its thread is deleted. Answers what the research spent, or undefined when it had started nothing.
 * A subtask collected already has no thread left; its kept result answers. Safe to repeat.
 */
export function createStopResearch(deps: ResearchDeps): StopResearch {
  const now = deps.now ?? Date.now;
  const kept = keptResearchResults(deps.clients.blobService, deps.config.resultsContainer);
  return async (runId, subtaskId, log) => {
    const client = deps.clients.agents;
    if (!client) return undefined;
    try {
      const key = kept.keyOf({ runId, subtaskId });
      const collected = key ? await kept.read(key) : undefined;
      const earlier = await findEarlierThread(client, metadataFor(runId, subtaskId), now());
      let usage = collected?.usage;
      if (earlier?.run && !collected) {
        const run = await stopRun(client, earlier.run, now);
        usage = toUsage(run) ?? { promptTokens: 0, completionTokens: 0, totalTokens: 0 };
        const messages: ThreadMessage[] = [];
        for await (const message of client.messages.list(run.threadId, { runId: run.id, order: 'asc' })) {
          messages.push(message);
        }
        const { text, citations } = answerWithCitations(messages);
        if (key) await kept.write(key, { text, citations, usage });
        log(
          `Stopped research run ${run.id} (${run.status}, ${usage.totalTokens} tokens) of ${runId}/${subtaskId}.`,
        );
      }
      if (earlier) {
        await client.threads.delete(earlier.threadId).catch((error: unknown) => {
          if (!(isRestError(error) && error.statusCode === 404)) throw error;
        });
        log(`Deleted research thread ${earlier.threadId} of ${runId}/${subtaskId}.`);
      }
      return usage;
    } catch (error) {
      throw classifyAgentsError(error, `stopping the research of ${runId}/${subtaskId}`, now());
    }
  };
}

/** Cancels a run that is still going and waits until the service has ended it. */
async function stopRun(client: AgentsClient, found: ThreadRun, now: () => number): Promise<ThreadRun> {
  let run = await client.runs.get(found.threadId, found.id);
  if (!terminalStatuses.has(toStatus(run.status))) {
    run = await client.runs.cancel(run.threadId, run.id).catch(async (error: unknown) => {
      // It ended between the read and the cancel (the service refuses to cancel an ended run).
      if (isRestError(error) && error.statusCode === 400) return client.runs.get(found.threadId, found.id);
      throw error;
    });
  }
  const giveUpAt = now() + cancelWaitMs;
  while (!terminalStatuses.has(toStatus(run.status))) {
    if (now() >= giveUpAt) {
      throw new RetryableError(`research run ${run.id} is still ${run.status} after the cancel`);
    }
    await sleep(200);
    run = await client.runs.get(run.threadId, run.id);
  }
  return run;
}

/** Lets a retry find what an earlier attempt started, and the clean-up find what a stopped run left. */
function metadataFor(runId: string, subtaskId: string): { agentRunId: string; subtaskId: string } {
  return { agentRunId: runId.slice(0, 512), subtaskId: subtaskId.slice(0, 512) };
}

/** The research agent's definition; a hash of it names the agent, so a changed definition gets a new one. */
export function researchAgentFor(
  model: string,
  bingConnectionId: string,
): { name: string; model: string; instructions: string; tools: ReturnType<typeof bingTool>[] } {
  const definition = { model, instructions: researchInstructions, tools: [bingTool(bingConnectionId)] };
  const hash = createHash('sha256').update(JSON.stringify(definition)).digest('hex').slice(0, 12);
  return { name: `${researchAgentName}-${hash}`, ...definition };
}

function bingTool(connectionId: string) {
  return ToolUtility.createBingGroundingTool([{ connectionId }]).definition;
}

/**
 * The agent with this definition's name, created when there is none. Two processes may create one at
 * the same moment: both then settle on the oldest, and the other copy is deleted.
 */
async function findOrCreateAgent(
  client: AgentsClient,
  definition: ReturnType<typeof researchAgentFor>,
): Promise<string> {
  const oldest = async (): Promise<Agent | undefined> => {
    let found: Agent | undefined;
    for await (const agent of client.listAgents({ order: 'asc', limit: 100 })) {
      if (agent.name !== definition.name) continue;
      const older =
        !found ||
        agent.createdAt.getTime() < found.createdAt.getTime() ||
        (agent.createdAt.getTime() === found.createdAt.getTime() && agent.id < found.id);
      if (older) found = agent;
    }
    return found;
  };
  const existing = await oldest();
  if (existing) return existing.id;
  const created = await client.createAgent(definition.model, {
    name: definition.name,
    instructions: definition.instructions,
    tools: definition.tools,
    metadata: { app: researchAgentName },
  });
  const winner = (await oldest()) ?? created;
  if (winner.id !== created.id) await client.deleteAgent(created.id).catch(() => undefined);
  return winner.id;
}

/** The thread (and its run, when it has one) an earlier attempt started for this run and subtask. */
async function findEarlierThread(
  client: AgentsClient,
  metadata: { agentRunId: string; subtaskId: string },
  now: number,
): Promise<{ threadId: string; run?: ThreadRun } | undefined> {
  // Newest first, so the search stops at the lookback horizon instead of reading every thread.
  for await (const thread of client.threads.list({ order: 'desc', limit: 100 })) {
    if (thread.createdAt.getTime() < now - earlierThreadLookbackMs) return undefined;
    if (
      thread.metadata?.agentRunId !== metadata.agentRunId ||
      thread.metadata?.subtaskId !== metadata.subtaskId
    ) {
      continue;
    }
    for await (const run of client.runs.list(thread.id, { order: 'asc', limit: 1 })) {
      return { threadId: thread.id, run };
    }
    return { threadId: thread.id };
  }
  return undefined;
}

function checkHandle(
  deps: ResearchDeps,
  input: ResearchHandle,
): { client: AgentsClient; handle: ResearchHandle } {
  const client = deps.clients.agents;
  if (!client) {
    throw new PermanentError(
      'Research is not configured: set AZURE_AI_PROJECT_ENDPOINT and BING_CONNECTION_ID to enable research subtasks.',
    );
  }
  const parsed = researchHandleSchema.safeParse(input);
  if (!parsed.success)
    throw new PermanentError(`The research handle is invalid (got ${JSON.stringify(input)})`);
  return { client, handle: parsed.data };
}

function toStatus(status: string): ResearchRunStatus {
  // A status this code does not know is reported as failed rather than polled forever.
  return (researchRunStatuses as readonly string[]).includes(status)
    ? (status as ResearchRunStatus)
    : 'failed';
}

function toUsage(run: ThreadRun): ModelUsage | undefined {
  const usage = run.usage;
  if (!usage) return undefined;
  return {
    promptTokens: usage.promptTokens ?? 0,
    completionTokens: usage.completionTokens ?? 0,
    totalTokens: usage.totalTokens ?? (usage.promptTokens ?? 0) + (usage.completionTokens ?? 0),
  };
}

function runProblem(run: ThreadRun): string | undefined {
  if (run.lastError) return `${run.lastError.code}: ${run.lastError.message}`;
  if (run.incompleteDetails) return `incomplete: ${run.incompleteDetails.reason}`;
  if (run.status === 'requires_action') return 'the agent asked for a tool output this app does not provide';
  return undefined;
}

/**
 * The assistant's text with the service's citation markers (e.g. 【3:0†source】) replaced by [n], and
 * the cited URLs deduplicated and numbered in the order they first appear.
 */
export function answerWithCitations(messages: readonly ThreadMessage[]): {
  text: string;
  citations: Citation[];
} {
  const citations: Citation[] = [];
  const numberOf = new Map<string, number>();
  const parts: string[] = [];
  for (const message of messages) {
    if (message.role !== 'assistant') continue;
    for (const content of message.content) {
      if (content.type !== 'text' || !('text' in content)) continue;
      const details = (content as { text: { value: string; annotations?: unknown[] } }).text;
      let value = details.value;
      const annotations = (details.annotations ?? []).filter(isUrlCitation);
      for (const annotation of annotations) {
        const url = annotation.urlCitation.url;
        let n = numberOf.get(url);
        if (n === undefined) {
          citations.push({ url, title: annotation.urlCitation.title?.trim() || url });
          n = citations.length;
          numberOf.set(url, n);
        }
        if (annotation.text) value = value.split(annotation.text).join(`[${n}]`);
      }
      parts.push(value.trim());
    }
  }
  return { text: parts.filter((p) => p !== '').join('\n\n'), citations };
}

function isUrlCitation(annotation: unknown): annotation is MessageTextUrlCitationAnnotation {
  if (typeof annotation !== 'object' || annotation === null) return false;
  const a = annotation as { type?: unknown; urlCitation?: { url?: unknown } };
  return a.type === 'url_citation' && typeof a.urlCitation?.url === 'string' && a.urlCitation.url !== '';
}

/**
 * Agent Service failures, mapped like model failures: 429 is a rate limit with its retry-after, 4xx
 * (other than 408/409) will fail again, anything else (5xx, no response) is transient.
 */
export function classifyAgentsError(error: unknown, doing: string, now: number): unknown {
  if (error instanceof PermanentError || error instanceof RetryableError || error instanceof RateLimitedError)
    return error;
  if (!isRestError(error)) return error;
  const status = error.statusCode;
  const reason = describe(error);
  if (status === undefined) return new RetryableError(`Agent Service unreachable while ${doing}: ${reason}`);
  if (status === 429) {
    const headers = error.response?.headers;
    const retryAfterMs =
      retryAfterMsFrom(headers ? { get: (name) => headers.get(name) ?? null } : undefined, now) ?? 10_000;
    return new RateLimitedError(
      `Agent Service rate-limited while ${doing}; retry after ${retryAfterMs} ms.`,
      retryAfterMs,
    );
  }
  if (status >= 400 && status < 500 && status !== 408 && status !== 409) {
    const hint =
      status === 401 || status === 403
        ? "; the app's identity needs the Azure AI User role on the Foundry project"
        : status === 404
          ? '; check AZURE_AI_PROJECT_ENDPOINT, BING_CONNECTION_ID and that the model deployment exists in the project'
          : '';
    return new PermanentError(`Agent Service refused ${doing} with ${status}: ${reason}${hint}`, status);
  }
  return new RetryableError(`Agent Service failed with ${status} while ${doing}: ${reason}`, status);
}

function describe(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 300 ? `${oneLine.slice(0, 300)}...` : oneLine;
}
