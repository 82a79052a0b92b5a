/**
 * Entity batches: an entity's pending operations (up to 100 at a time, in arrival order) run as one
 * invocation of its function; the new state, the answers to callers and the signals it sent are stored
 * with the consumed operations in one step.
 */
import { randomUUID } from 'node:crypto';
import { type EngineContext } from './context';
import { EventType, historyEvent } from './history';
import {
  type EntityOperationMessage,
  type EntityRecord,
  type InstanceMessage,
  type NewInstanceMessage,
} from './store';
import { typedDataValue } from './values';
import { errorMessage } from '../log';

const entityBatchLimit = 100;

export async function entityEpisode(ctx: EngineContext, entityId: string): Promise<void> {
  const messages = await ctx.store.pendingMessages(entityId);
  const operations = messages.filter(
    (m): m is InstanceMessage & { kind: 'operation' } => m.kind === 'operation',
  );
  const stray = messages.filter((m) => m.kind !== 'operation').map((m) => m.id);
  if (stray.length > 0) await ctx.store.deleteMessages(entityId, stray);
  if (operations.length === 0) return;
  const batch = operations.slice(0, entityBatchLimit);
  const { name, key } = parseEntityId(entityId);
  const now = new Date().toISOString();
  const functionName = ctx.entities.get(name);
  const registered = functionName ? ctx.runtime.functions.get(functionName) : undefined;
  const send: NewInstanceMessage[] = [];
  const wake = new Set<string>();
  const respond = (operation: EntityOperationMessage, result: string | undefined, isError: boolean) => {
    if (operation.isSignal || !operation.parentInstanceId) return;
    const response: { result?: string; exceptionType?: string } = {};
    if (result !== undefined) response.result = result;
    if (isError) response.exceptionType = 'Error';
    send.push({
      instanceId: operation.parentInstanceId,
      kind: 'event',
      event: historyEvent(EventType.EventRaised, { Name: operation.id, Input: JSON.stringify(response) }),
    });
    wake.add(operation.parentInstanceId);
  };

  const record: EntityRecord = (await ctx.store.getEntity(entityId)) ?? {
    entityId,
    name,
    key,
    exists: false,
    state: null,
    lastOperationTime: now,
  };
  if (!functionName || !registered) {
    for (const message of batch) {
      respond(
        message.operation,
        JSON.stringify(`The function '${name}' doesn't exist, is disabled, or is not an entity function.`),
        true,
      );
    }
    await ctx.store.deleteMessages(
      entityId,
      batch.map((m) => m.id),
    );
    for (const message of send) await ctx.store.sendMessage(message);
  } else {
    const payload = {
      self: { name, key },
      exists: record.exists,
      state: record.exists ? record.state : null,
      batch: batch.map((m) => ({
        id: m.operation.id,
        name: m.operation.operation,
        isSignal: m.operation.isSignal,
        ...(m.operation.input !== undefined ? { input: m.operation.input } : {}),
      })),
    };
    const outcome = await ctx.runtime.invoke(
      functionName,
      [{ name: registered.triggerKey, data: { string: JSON.stringify(payload) } }],
      { reason: '(null)' },
    );
    const result = outcome.ok
      ? (typedDataValue(outcome.response.returnValue) as EntityBatchResult | undefined)
      : undefined;
    if (!result || !Array.isArray(result.results)) {
      const message = outcome.ok
        ? 'The entity function returned no batch result.'
        : errorMessage(outcome.error);
      ctx.log.error(`Entity '${entityId}' failed a batch of ${batch.length}: ${message}`);
      batch.forEach((m) => respond(m.operation, JSON.stringify(message), true));
    } else {
      record.exists = Boolean(result.entityExists);
      record.state = record.exists ? (result.entityState ?? null) : null;
      batch.forEach((m, index) => {
        const operationResult = result.results[index];
        respond(m.operation, operationResult?.result, operationResult?.isError ?? false);
      });
      for (const signal of result.signals ?? []) {
        const targetId = `@${signal.target.name.toLowerCase()}@${signal.target.key}`;
        const operation: EntityOperationMessage = {
          id: randomUUID(),
          operation: signal.name,
          isSignal: true,
        };
        if (signal.input !== undefined && signal.input !== '') operation.input = signal.input;
        send.push({ instanceId: targetId, kind: 'operation', operation });
        wake.add(targetId);
      }
    }
    record.lastOperationTime = now;
    await ctx.store.commitEntityBatch(
      record,
      batch.map((m) => m.id),
      send,
    );
  }
  for (const id of wake) ctx.wake(id);
  if (operations.length > batch.length) ctx.wake(entityId);
}

interface EntityBatchResult {
  entityExists?: boolean;
  entityState?: string;
  results: { isError?: boolean; result?: string }[];
  signals?: { target: { name: string; key: string }; name: string; input?: string }[];
}

export function parseEntityId(entityId: string): { name: string; key: string } {
  const at = entityId.indexOf('@', 1);
  return { name: entityId.slice(1, at), key: entityId.slice(at + 1) };
}
