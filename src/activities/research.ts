import type { InvocationContext } from '@azure/functions';
import type {
  AgentsClient,
  MessageTextUrlCitationAnnotation,
  ThreadMessage,
  ThreadRun,
} from '@azure/ai-agents';
import { ToolUtility } from '@azure/ai-agents';
import { isRestError } from '@azure/core-rest-pipeline';
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

export const researchAgentName = 'durable-agent-runs-research';

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
  // One agent per process: created on first use, shared by every run; a failed creation is forgotten so
  // the next call tries again.
  let agentId: Promise<string> | undefined;
  const ensureAgent = (client: AgentsClient, bingConnectionId: string): Promise<string> => {
    agentId ??= client
      .createAgent(config.openai.fastDeployment, {
        name: researchAgentName,
        instructions: researchInstructions,
        tools: [ToolUtility.createBingGroundingTool([{ connectionId: bingConnectionId }]).definition],
      })
      .then((agent) => agent.id)
      .catch((error: unknown) => {
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
      const run = await client.runs.createThreadAndRun(id, {
        thread: {
          messages: [{ role: 'user', content: parsed.data.query }],
          // Lets a person find the thread of a run in the Foundry portal, and a leaked one be traced.
          metadata: {
            agentRunId: parsed.data.runId.slice(0, 512),
            subtaskId: parsed.data.subtaskId.slice(0, 512),
          },
        },
      });
      context.log(
        `Started research run ${run.id} on thread ${run.threadId} for ${parsed.data.runId}/${parsed.data.subtaskId}.`,
      );
      return { ok: true, value: { threadId: run.threadId, agentRunId: run.id, agentId: id } };
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
  return async (input, context) => {
    try {
      const { client, handle } = checkHandle(deps, input);
      // A run the orchestrator saw complete needs no second read; any other is cancelled before the thread goes.
      let usage = input.completedUsage;
      if (!usage) {
        const run = await client.runs.get(handle.threadId, handle.agentRunId);
        if (!terminalStatuses.has(toStatus(run.status))) {
          await client.runs.cancel(handle.threadId, handle.agentRunId).catch((error: unknown) => {
            context.warn(`Could not cancel research run ${handle.agentRunId}: ${describe(error)}`);
          });
        }
        usage = toUsage(run);
      }
      const messages: ThreadMessage[] = [];
      for await (const message of client.messages.list(handle.threadId, {
        runId: handle.agentRunId,
        order: 'asc',
      })) {
        messages.push(message);
      }
      const { text, citations } = answerWithCitations(messages);
      await client.threads.delete(handle.threadId).catch((error: unknown) => {
        // The answer is already read; a thread left behind is not worth failing the subtask for.
        if (!(isRestError(error) && error.statusCode === 404)) {
          context.warn(`Could not delete research thread ${handle.threadId}: ${describe(error)}`);
        }
      });
      return {
        ok: true,
        value: {
          text,
          citations,
          usage: usage ?? { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
        },
      };
    } catch (error) {
      return toOutcome(classifyAgentsError(error, `collecting research run ${input?.agentRunId}`, now()));
    }
  };
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
