/**
 * The Durable Task extension's HTTP API (`/runtime/webhooks/durabletask/...`, and the same handler under
 * the rpc base URL handed to durable clients), with the extension's routes and status codes. The bodies
 * an instance is shown with are shaped in ./status.ts; the API's URLs are made in ./urls.ts.
 */
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { readBody, send } from '../httpIo';
import { type DurableEngine, DurableArgumentError } from './engine';
import { formatTime, historyForStatus, parseJsonText, statusBody } from './status';
import { InstanceExistsError, type RuntimeStatus, terminalStatuses } from './store';
import { managementUrls, publicBasePath } from './urls';

const runtimeStatuses: RuntimeStatus[] = [
  'Pending',
  'Running',
  'Completed',
  'ContinuedAsNew',
  'Failed',
  'Canceled',
  'Terminated',
  'Suspended',
];

export class ManagementApi {
  constructor(
    private readonly engine: DurableEngine,
    private readonly hubName: string,
  ) {}

  /** Handles `rest` (the path after the base, without leading slash). */
  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    rest: string,
    url: URL,
    origin: string,
  ): Promise<void> {
    try {
      await this.#route(req, res, rest, url, origin);
    } catch (error) {
      if (error instanceof DurableArgumentError) {
        send(res, 400, {
          Message: 'One or more of the arguments submitted is incorrect',
          ExceptionMessage: error.message,
        });
        return;
      }
      throw error;
    }
  }

  async #route(
    req: IncomingMessage,
    res: ServerResponse,
    rest: string,
    url: URL,
    origin: string,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    const segments = rest
      .replace(/^\/+|\/+$/g, '')
      .split('/')
      .map((s) => decodeURIComponent(s));
    const [controller, first, second, third] = segments;

    if (controller === 'orchestrators' && first && segments.length <= 3) {
      if (method !== 'POST') return send(res, 404);
      return this.#start(req, res, first, second, url, origin);
    }
    if (controller === 'entities' && segments.length <= 3) {
      if (method === 'GET') {
        if (first && second !== undefined && second !== '')
          return this.#readEntity(res, first, second === '$' ? '' : second);
        return this.#listEntities(req, res, first, url);
      }
      if ((method === 'POST' || method === 'DELETE') && first) {
        return this.#signalEntity(req, res, first, second ?? '', method, url);
      }
      return send(res, 404);
    }
    if (controller === 'instances') {
      if (segments.length === 4 && second === 'raiseEvent' && first && third) {
        if (method !== 'POST') return send(res, 404);
        return this.#raiseEvent(req, res, first, third);
      }
      if (segments.length > 3) return send(res, 404);
      if (!first) {
        if (method === 'GET') return this.#query(req, res, url);
        if (method === 'DELETE') return this.#purgeByFilter(res, url);
        return send(res, 404);
      }
      if (second === undefined) {
        if (method === 'GET') return this.#status(res, first, url, origin);
        if (method === 'DELETE') return this.#purgeOne(res, first);
        return send(res, 404);
      }
      if (method !== 'POST') return send(res, 404);
      const reason = url.searchParams.get('reason') ?? '';
      switch (second.toLowerCase()) {
        case 'terminate':
          return this.#control(res, first, 'terminate', reason);
        case 'suspend':
          return this.#control(res, first, 'suspend', reason);
        case 'resume':
          return this.#control(res, first, 'resume', reason);
        case 'restart':
          return this.#restart(res, first, url, origin);
        case 'rewind':
          return this.#rewind(res, first);
        default:
          return send(res, 404);
      }
    }
    send(res, 404);
  }

  async #start(
    req: IncomingMessage,
    res: ServerResponse,
    functionName: string,
    instanceId: string | undefined,
    url: URL,
    origin: string,
  ): Promise<void> {
    const input = await readJsonText(req);
    if (input === invalidJson) return send(res, 400, { Message: 'Invalid JSON content' });
    let id: string;
    try {
      // The JS client sends `?version=` for startNew({ version }); without one host.json's defaultVersion applies.
      const version = url.searchParams.get('version') ?? undefined;
      id = await this.engine.startOrchestration(functionName, instanceId, input, undefined, version);
    } catch (error) {
      if (error instanceof InstanceExistsError) return send(res, 409, { Message: error.message });
      throw error;
    }
    return this.#checkStatusOrWait(res, id, url, origin);
  }

  /** 202 with the management links, or (with `timeout` and `pollingInterval`) the outcome if it comes in time. */
  async #checkStatusOrWait(res: ServerResponse, id: string, url: URL, origin: string): Promise<void> {
    const timeout = Number(url.searchParams.get('timeout'));
    const interval = Number(url.searchParams.get('pollingInterval'));
    if (
      url.searchParams.has('timeout') &&
      url.searchParams.has('pollingInterval') &&
      timeout > 0 &&
      interval > 0
    ) {
      const giveUpAt = Date.now() + timeout * 1000;
      for (;;) {
        const instance = await this.engine.store.getInstance(id);
        if (instance?.runtimeStatus === 'Completed') return send(res, 200, parseJsonText(instance.output));
        if (instance && terminalStatuses.has(instance.runtimeStatus))
          return this.#status(res, id, url, origin);
        if (Date.now() >= giveUpAt) break;
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(interval * 1000, Math.max(giveUpAt - Date.now(), 0))),
        );
      }
    }
    const links = managementUrls(
      `${origin}${publicBasePath}`,
      id,
      `taskHub=${encodeURIComponent(this.hubName)}&connection=Storage`,
    );
    send(
      res,
      202,
      {
        id,
        statusQueryGetUri: links.statusQueryGetUri,
        sendEventPostUri: links.sendEventPostUri,
        terminatePostUri: links.terminatePostUri,
        purgeHistoryDeleteUri: links.purgeHistoryDeleteUri,
        restartPostUri: links.restartPostUri,
        suspendPostUri: links.suspendPostUri,
        resumePostUri: links.resumePostUri,
      },
      { location: links.statusQueryGetUri ?? '', 'retry-after': '10' },
    );
  }

  async #status(res: ServerResponse, instanceId: string, url: URL, origin: string): Promise<void> {
    const instance = await this.engine.store.getInstance(instanceId);
    if (!instance) return send(res, 404);
    const flags = {
      showHistory: queryBool(url, 'showHistory') ?? false,
      showHistoryOutput: queryBool(url, 'showHistoryOutput') ?? false,
      showInput: queryBool(url, 'showInput') ?? true,
    };
    const history = flags.showHistory ? await this.engine.store.getHistory(instanceId) : undefined;
    const body = statusBody(instance, flags.showInput, history && historyForStatus(history, flags));
    const status = instance.runtimeStatus;
    if (
      status === 'Running' ||
      status === 'Pending' ||
      status === 'ContinuedAsNew' ||
      status === 'Suspended'
    ) {
      return send(res, 202, body, { location: `${origin}${url.pathname}${url.search}`, 'retry-after': '5' });
    }
    if (status === 'Failed' && queryBool(url, 'returnInternalServerErrorOnFailure'))
      return send(res, 500, body);
    send(res, 200, body);
  }

  async #query(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const statuses = (url.searchParams.getAll('runtimeStatus').join(',') || '')
      .split(',')
      .map((s) => s.trim())
      .filter((s): s is RuntimeStatus => runtimeStatuses.includes(s as RuntimeStatus));
    const top = Number(url.searchParams.get('top'));
    const token = header(req, 'x-ms-continuation-token');
    const from = queryDate(url, 'createdTimeFrom');
    const to = queryDate(url, 'createdTimeTo');
    const prefix = url.searchParams.get('instanceIdPrefix');
    const page = await this.engine.store.queryInstances({
      ...(from ? { createdTimeFrom: from } : {}),
      ...(to ? { createdTimeTo: to } : {}),
      ...(statuses.length > 0 ? { runtimeStatus: statuses } : {}),
      ...(prefix ? { instanceIdPrefix: prefix } : {}),
      ...(Number.isInteger(top) && top > 0 ? { pageSize: top } : {}),
      ...(token ? { continuationToken: token } : {}),
    });
    const showInput = queryBool(url, 'showInput') ?? false;
    send(
      res,
      200,
      page.items.map((instance) => statusBody(instance, showInput)),
      page.continuationToken ? { 'x-ms-continuation-token': page.continuationToken } : {},
    );
  }

  async #purgeOne(res: ServerResponse, instanceId: string): Promise<void> {
    const instance = await this.engine.store.getInstance(instanceId);
    if (!instance) return send(res, 404);
    if (!terminalStatuses.has(instance.runtimeStatus)) {
      return send(
        res,
        412,
        `Only orchestrations in a terminal state can be purged, but the orchestration with instance ID ${instanceId} has status ${instance.runtimeStatus}`,
      );
    }
    const deleted = await this.engine.store.purgeInstance(instanceId);
    send(res, 200, { instancesDeleted: deleted ? 1 : 0 });
  }

  async #purgeByFilter(res: ServerResponse, url: URL): Promise<void> {
    const from = queryDate(url, 'createdTimeFrom');
    if (!from) return send(res, 400, "Please provide value for 'createdTimeFrom' parameter.");
    const to = queryDate(url, 'createdTimeTo') ?? new Date();
    const statuses = (url.searchParams.get('runtimeStatus') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s): s is RuntimeStatus => runtimeStatuses.includes(s as RuntimeStatus));
    const page = await this.engine.store.queryInstances({
      createdTimeFrom: from,
      createdTimeTo: to,
      runtimeStatus: statuses.length > 0 ? statuses : [...terminalStatuses],
    });
    let deleted = 0;
    for (const instance of page.items) {
      if (await this.engine.store.purgeInstance(instance.instanceId)) deleted++;
    }
    if (deleted === 0) return send(res, 404);
    send(res, 200, { instancesDeleted: deleted });
  }

  async #control(
    res: ServerResponse,
    instanceId: string,
    kind: 'terminate' | 'suspend' | 'resume',
    reason: string,
  ): Promise<void> {
    const instance = await this.engine.store.getInstance(instanceId);
    if (!instance) return send(res, 404);
    if (terminalStatuses.has(instance.runtimeStatus)) return send(res, 410);
    await this.engine.control(instanceId, kind, reason);
    send(res, 202);
  }

  async #restart(res: ServerResponse, instanceId: string, url: URL, origin: string): Promise<void> {
    const instance = await this.engine.store.getInstance(instanceId);
    if (!instance) {
      return send(res, 400, {
        Message: 'InstanceId does not match a valid orchestration instance.',
        ExceptionMessage: `No orchestration with instance ID '${instanceId}' found.`,
      });
    }
    const newId = queryBool(url, 'restartWithNewInstanceId') === false ? instanceId : undefined;
    let id: string;
    try {
      id = await this.engine.startOrchestration(
        instance.name,
        newId,
        instance.input,
        undefined,
        instance.version,
      );
    } catch (error) {
      if (error instanceof InstanceExistsError) {
        return send(res, 409, { Message: 'A non-terminal instance with this instance ID already exists.' });
      }
      throw error;
    }
    return this.#checkStatusOrWait(res, id, url, origin);
  }

  async #rewind(res: ServerResponse, instanceId: string): Promise<void> {
    const instance = await this.engine.store.getInstance(instanceId);
    if (!instance) return send(res, 404, `No orchestration with instance ID "${instanceId}" found.`);
    if (instance.runtimeStatus !== 'Failed') {
      return send(
        res,
        412,
        `This orchestration has status ${instance.runtimeStatus}, but only orchestrations in the "Failed" state can be rewound.`,
      );
    }
    send(res, 501, 'Rewind is not supported by the devhost.');
  }

  async #raiseEvent(
    req: IncomingMessage,
    res: ServerResponse,
    instanceId: string,
    eventName: string,
  ): Promise<void> {
    const instance = await this.engine.store.getInstance(instanceId);
    if (!instance) return send(res, 404);
    if (terminalStatuses.has(instance.runtimeStatus)) return send(res, 410);
    const mediaType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (mediaType !== 'application/json') {
      return send(res, 400, { Message: 'Only application/json request content is supported' });
    }
    const data = await readJsonText(req);
    if (data === invalidJson) return send(res, 400, { Message: 'Invalid JSON content' });
    await this.engine.raiseEvent(instanceId, eventName, data);
    send(res, 202);
  }

  async #readEntity(res: ServerResponse, name: string, key: string): Promise<void> {
    const entity = await this.engine.readEntity(name, key);
    if (!entity) return send(res, 404);
    send(res, 200, Buffer.from(entity.state ?? 'null'), {
      'content-type': 'application/json; charset=utf-8',
    });
  }

  async #listEntities(
    req: IncomingMessage,
    res: ServerResponse,
    name: string | undefined,
    url: URL,
  ): Promise<void> {
    const top = Number(url.searchParams.get('top'));
    const token = header(req, 'x-ms-continuation-token');
    const from = queryDate(url, 'lastOperationTimeFrom');
    const to = queryDate(url, 'lastOperationTimeTo');
    const fetchState = queryBool(url, 'fetchState') ?? false;
    const page = await this.engine.store.listEntities({
      ...(name ? { entityName: name } : {}),
      ...(from ? { lastOperationFrom: from } : {}),
      ...(to ? { lastOperationTo: to } : {}),
      ...(Number.isInteger(top) && top > 0 ? { pageSize: top } : {}),
      ...(token ? { continuationToken: token } : {}),
    });
    send(
      res,
      200,
      page.items.map((entity) => ({
        entityId: { name: entity.name, key: entity.key },
        lastOperationTime: formatTime(entity.lastOperationTime),
        ...(fetchState ? { state: parseJsonText(entity.state) } : {}),
      })),
      page.continuationToken ? { 'x-ms-continuation-token': page.continuationToken } : {},
    );
  }

  async #signalEntity(
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    key: string,
    method: string,
    url: URL,
  ): Promise<void> {
    const operation = method === 'DELETE' ? 'delete' : (url.searchParams.get('op') ?? '');
    const body = (await readBody(req)).toString('utf8');
    let input: string | undefined;
    if (body !== '') {
      const mediaType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (mediaType === 'application/json') {
        try {
          JSON.parse(body);
        } catch (error) {
          return send(res, 400, { Message: `Could not parse JSON content: ${(error as Error).message}` });
        }
        input = body;
      } else {
        input = JSON.stringify(body);
      }
    }
    await this.engine.signalEntity(name, key, operation, input);
    send(res, 202);
  }
}

const invalidJson = Symbol('invalid JSON');

/** The request body as JSON text (null when empty), or `invalidJson` when it does not parse. */
async function readJsonText(req: IncomingMessage): Promise<string | null | typeof invalidJson> {
  const body = (await readBody(req)).toString('utf8');
  if (body.trim() === '') return null;
  try {
    JSON.parse(body);
    return body;
  } catch {
    return invalidJson;
  }
}

function queryBool(url: URL, name: string): boolean | undefined {
  const value = url.searchParams.get(name)?.toLowerCase();
  if (value === 'true') return true;
  if (value === 'false') return false;
  return undefined;
}

function queryDate(url: URL, name: string): Date | undefined {
  const value = url.searchParams.get(name);
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
