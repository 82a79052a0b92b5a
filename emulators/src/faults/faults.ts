import { checkCannedContent } from './cannedContent';
import { checkCutStream, cutStreamMatches } from './cutStream';
import { checkDelay } from './delay';
import { checkErrorStatus, checkRetryAfter } from './errorStatus';
import type { Fault, FaultRequest, FaultTarget } from './fault';
import { checkLostReply } from './lostReply';

/**
 * A POST /_emulator/faults body checked against every kind of fault, and the fault it makes. Each kind's
 * own rules are in its module; here are the fields every fault shares (count, what it matches).
 */

/** Undefined when the body makes a fault; else a message naming the field that is wrong. */
export function checkFaultRequest(body: FaultRequest): string | undefined {
  const { status, count, deployment, delayMs, service, path, method, content } = body;
  if (body.stream !== undefined && typeof body.stream !== 'boolean') {
    return `"stream" must be true or false, got ${JSON.stringify(body.stream)}.`;
  }
  const kindProblem =
    checkCutStream(body) ?? checkErrorStatus(body) ?? checkCannedContent(body) ?? checkLostReply(body);
  if (kindProblem) return kindProblem;
  if (
    status === undefined &&
    delayMs === undefined &&
    content === undefined &&
    body.lostReply !== true &&
    body.cutStreamAfterChunks === undefined
  ) {
    return 'Give "status" (429, 500 or 503), "delayMs", "content", "lostReply" or "cutStreamAfterChunks"; the fault otherwise does nothing.';
  }
  if (count !== undefined && !(Number.isInteger(count) && (count as number) >= 1)) {
    return `"count" must be a whole number of requests, 1 or more, got ${JSON.stringify(count)}.`;
  }
  const timingProblem = checkRetryAfter(body) ?? checkDelay(body);
  if (timingProblem) return timingProblem;
  if (deployment !== undefined && typeof deployment !== 'string') {
    return `"deployment" must be a deployment name such as "gpt-4o-mini", got ${JSON.stringify(deployment)}.`;
  }
  if (service !== undefined && service !== 'openai' && service !== 'agents') {
    return `"service" must be "openai" or "agents", got ${JSON.stringify(service)}.`;
  }
  if (path !== undefined && typeof path !== 'string') {
    return `"path" must be a substring of request paths such as "/chat/completions", got ${JSON.stringify(path)}.`;
  }
  if (method !== undefined && typeof method !== 'string') {
    return `"method" must be an HTTP method such as "POST", got ${JSON.stringify(method)}.`;
  }
  return undefined;
}

/** The fault a checked body makes. */
export function faultFrom(id: number, body: FaultRequest): Fault {
  const { status, count, retryAfterMs, deployment, delayMs, service, path, method, content } = body;
  const cut = body.cutStreamAfterChunks;
  return {
    id,
    remaining: (count as number | undefined) ?? 1,
    ...(status !== undefined ? { status: status as 429 | 500 | 503 } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs: retryAfterMs as number } : {}),
    ...(delayMs !== undefined ? { delayMs: delayMs as number } : {}),
    ...(deployment !== undefined ? { deployment: deployment as string } : {}),
    ...(service !== undefined ? { service: service as Fault['service'] & string } : {}),
    ...(path !== undefined ? { path: path as string } : {}),
    ...(method !== undefined ? { method: (method as string).toUpperCase() } : {}),
    ...(typeof content === 'string' ? { content } : {}),
    ...(body.lostReply === true ? { lostReply: true as const } : {}),
    ...(cut !== undefined ? { cutStreamAfterChunks: cut as number } : {}),
    ...(typeof body.stream === 'boolean' ? { stream: body.stream } : {}),
  };
}

/** Whether the fault answers this request. */
export function faultMatches(fault: Fault, request: FaultTarget): boolean {
  return (
    cutStreamMatches(fault, request.stream) &&
    (fault.stream === undefined || fault.stream === (request.stream === true)) &&
    (fault.service === undefined || fault.service === request.service) &&
    (fault.deployment === undefined || fault.deployment === request.deployment) &&
    (fault.path === undefined || request.path.includes(fault.path)) &&
    (fault.method === undefined || fault.method === request.method)
  );
}
