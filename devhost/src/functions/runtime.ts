/**
 * Plays the Node worker's part: supplies `@azure/functions-core` to the app's `@azure/functions`, collects
 * the registrations and hooks, and invokes functions through the library's ProgrammingModel and
 * InvocationModel exactly in the order the worker does (getArguments, preInvocation hooks, invokeFunction,
 * postInvocation hooks, getResponse), so the app sees real HttpRequest and InvocationContext objects.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import Module from 'node:module';
import { type HostLog, describeError, errorMessage } from '../log';

export interface BindingInfo {
  type?: string | null;
  direction?: 'in' | 'out' | 'inout' | null;
  name?: string;
  route?: string;
  methods?: string[];
  authLevel?: string;
  [key: string]: unknown;
}

export interface TypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  stream?: Uint8Array | null;
  http?: HttpData | null;
  int?: number | null;
  double?: number | null;
}

export interface HttpData {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  body?: TypedData | null;
  params?: Record<string, string> | null;
  query?: Record<string, string> | null;
  statusCode?: string | null;
  cookies?: HttpCookieData[] | null;
}

export interface HttpCookieData {
  name?: string | null;
  value?: string | null;
  domain?: { value?: string | null } | null;
  path?: { value?: string | null } | null;
  expires?: { value?: { seconds?: number | null; nanos?: number | null } | null } | null;
  secure?: { value?: boolean | null } | null;
  httpOnly?: { value?: boolean | null } | null;
  sameSite?: 'none' | 'lax' | 'strict' | 'explicitNone' | null;
  maxAge?: { value?: number | null } | null;
}

export interface ParameterBinding {
  name: string;
  data: TypedData;
}

export interface InvocationResponse {
  invocationId?: string | null;
  outputData?: { name?: string | null; data?: TypedData | null }[] | null;
  returnValue?: TypedData | null;
}

type FunctionCallback = (...args: unknown[]) => unknown;
type HookCallback = (context: Record<string, unknown>) => unknown;

interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], callback: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<InvocationResponse>;
}

interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreContext: CoreInvocationContext): InvocationModel | Promise<InvocationModel>;
  getCapabilities?(capabilities: Record<string, string>): Promise<Record<string, string>>;
}

interface CoreInvocationContext {
  invocationId: string;
  request: {
    invocationId: string;
    functionId: string;
    inputData: ParameterBinding[];
    triggerMetadata: Record<string, TypedData>;
  };
  metadata: { name: string; bindings: Record<string, BindingInfo> };
  state?: 'preInvocationHooks' | 'postInvocationHooks' | 'invocation';
  log(level: string, category: string, message: string): void;
}

export interface RegisteredFunction {
  name: string;
  bindings: Record<string, BindingInfo>;
  callback: FunctionCallback;
  /** Key of the trigger binding in `bindings`. */
  triggerKey: string;
  trigger: BindingInfo;
  triggerType: string;
}

export type InvocationOutcome = { ok: true; response: InvocationResponse } | { ok: false; error: unknown };

class Disposable {
  static from(...items: { dispose: () => unknown }[]): Disposable {
    return new Disposable(() => items.forEach((item) => item.dispose()));
  }
  #callOnDispose?: () => unknown;
  constructor(callOnDispose: () => unknown) {
    this.#callOnDispose = callOnDispose;
  }
  dispose(): unknown {
    const callback = this.#callOnDispose;
    this.#callOnDispose = undefined;
    return callback?.();
  }
}

const hookNames = new Set(['preInvocation', 'postInvocation', 'appStart', 'appTerminate', 'log']);

/** Functions host runtime for one app: registrations, hooks, and the invocation pipeline. */
export class FunctionsRuntime {
  readonly functions = new Map<string, RegisteredFunction>();
  readonly #hooks = new Map<string, HookCallback[]>();
  readonly #appHookData: Record<string, unknown> = {};
  readonly #appLevelOnlyHookData: Record<string, unknown> = {};
  #programmingModel: ProgrammingModel | undefined;
  #loading = true;
  #inLogHook = false;

  constructor(private readonly log: HostLog) {}

  /** The object the app gets for `require('@azure/functions-core')`. */
  readonly coreApi = {
    version: '3.10.1',
    hostVersion: '4.1037.0',
    Disposable,
    registerFunction: (
      metadata: { name: string; bindings: Record<string, BindingInfo> },
      callback: FunctionCallback,
    ) => this.#registerFunction(metadata, callback),
    registerHook: (name: string, callback: HookCallback) => this.#registerHook(name, callback),
    setProgrammingModel: (model: ProgrammingModel) => {
      this.#programmingModel = model;
    },
    getProgrammingModel: () => this.#programmingModel,
    log: (level: string, category: string, message: string) =>
      this.#onLog(level, category, message, undefined),
  };

  /**
   * Makes `require('@azure/functions-core')` return this runtime's core API in every module of the
   * process, the way the worker does. Returns the function that undoes it.
   */
  installCoreModule(): () => void {
    const proto = Module.prototype as unknown as { require: (this: unknown, id: string) => unknown };
    const original = proto.require;
    const coreApi = this.coreApi;
    proto.require = function (this: unknown, id: string): unknown {
      if (id === '@azure/functions-core') return coreApi;
      // eslint-disable-next-line prefer-rest-params
      return Reflect.apply(original, this, arguments) as unknown;
    };
    return () => {
      proto.require = original;
    };
  }

  /** Ends the loading phase: like the worker, asks the programming model for its capabilities once. */
  async finishLoading(): Promise<void> {
    this.#loading = false;
    // With HTTP streaming on, getCapabilities starts the library's proxy server and keeps no handle to it:
    // the worker's process ends with the host, but a devhost in a longer-lived process (a test, the
    // history recorder) must close it, so the server is caught as it is created, in the call itself.
    const createServer = http.createServer;
    http.createServer = ((...args: Parameters<typeof createServer>) => {
      const server = createServer(...args);
      this.#httpStreamServers.push(server);
      // The library listens on every interface (listen() with no address); the host is its only client,
      // so keep it on loopback, where the devhost itself listens.
      const listen = server.listen.bind(server) as (...a: unknown[]) => http.Server;
      server.listen = ((...a: unknown[]) =>
        typeof a[0] === 'function' ? listen(0, '127.0.0.1', a[0]) : listen(...a)) as typeof server.listen;
      return server;
    }) as typeof createServer;
    let asked;
    try {
      asked = this.#programmingModel?.getCapabilities?.({});
    } finally {
      http.createServer = createServer;
    }
    const capabilities = await asked;
    // With app.setup({ enableHttpStream: true }) the library serves HTTP triggers from its own proxy
    // server and reports its address; the host then forwards each request there, as the real host does.
    if (typeof capabilities?.HttpUri === 'string' && capabilities.HttpUri !== '') {
      // It names `localhost`, which may resolve to ::1 first; the proxy is on 127.0.0.1.
      const uri = new URL(capabilities.HttpUri);
      if (uri.hostname === 'localhost') uri.hostname = '127.0.0.1';
      this.httpStreamUri = uri.toString();
    }
  }

  /** The library's HTTP proxy, when the app streams HTTP; undefined otherwise. */
  httpStreamUri: string | undefined;

  #httpStreamServers: http.Server[] = [];

  /** Stops what loading started in this process: the library's HTTP proxy server, when there is one. */
  async close(): Promise<void> {
    const servers = this.#httpStreamServers.splice(0);
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
  }

  async runAppHooks(name: 'appStart' | 'appTerminate', functionAppDirectory: string): Promise<void> {
    const appHookData = this.#appHookData;
    const hookData = this.#appLevelOnlyHookData;
    const context: Record<string, unknown> = { hookData, appHookData };
    if (name === 'appStart') context.functionAppDirectory = functionAppDirectory;
    await this.#runHooks(name, context);
  }

  /**
   * Invokes one function with the given input bindings, running the app's invocation hooks.
   * Never throws: a failed invocation comes back as `{ ok: false, error }`.
   */
  async invoke(
    functionName: string,
    inputData: ParameterBinding[],
    options: {
      triggerMetadata?: Record<string, TypedData>;
      reason: string;
      quiet?: boolean;
      /** Given by the caller when it must name the invocation elsewhere (the HTTP stream proxy). */
      invocationId?: string;
    },
  ): Promise<InvocationOutcome> {
    const registered = this.functions.get(functionName);
    if (!registered)
      return { ok: false, error: new Error(`The function '${functionName}' is not registered.`) };
    const model = this.#programmingModel;
    if (!model)
      return { ok: false, error: new Error('The app never set a programming model (no @azure/functions?).') };

    const invocationId = options.invocationId ?? randomUUID();
    const started = performance.now();
    // The Executing/Executed pair is built only when a line would be shown: this runs for every episode.
    const shown = options.quiet ? this.log.level === 'verbose' : this.log.level !== 'quiet';
    const logInvocation = (line: () => string) => {
      if (!shown) return;
      if (options.quiet) this.log.debug(line());
      else this.log.invocation(line());
    };
    logInvocation(
      () => `Executing 'Functions.${functionName}' (Reason='${options.reason}', Id=${invocationId})`,
    );

    let invocationContext: unknown;
    const coreContext: CoreInvocationContext = {
      invocationId,
      request: {
        invocationId,
        functionId: functionName,
        inputData,
        triggerMetadata: options.triggerMetadata ?? {},
      },
      metadata: { name: functionName, bindings: registered.bindings },
      log: (level, category, message) =>
        this.#onLog(level, category, message, functionName, invocationContext),
    };

    let outcome: InvocationOutcome;
    try {
      const invocationModel = await model.getInvocationModel(coreContext);
      const args = await invocationModel.getArguments();
      invocationContext = args.context;
      const hookData: Record<string, unknown> = {};
      const pre: Record<string, unknown> = {
        hookData,
        appHookData: this.#appHookData,
        invocationContext: args.context,
        inputs: args.inputs,
        functionCallback: registered.callback,
      };
      coreContext.state = 'preInvocationHooks';
      try {
        await this.#runHooks('preInvocation', pre);
      } finally {
        coreContext.state = undefined;
      }
      const inputs = pre.inputs as unknown[];
      const callback = pre.functionCallback as FunctionCallback;
      const post: Record<string, unknown> = {
        hookData,
        appHookData: this.#appHookData,
        invocationContext: args.context,
        inputs,
        result: null,
        error: null,
      };
      coreContext.state = 'invocation';
      try {
        post.result = await invocationModel.invokeFunction(args.context, inputs, callback);
      } catch (error) {
        post.error = error;
      } finally {
        coreContext.state = undefined;
      }
      coreContext.state = 'postInvocationHooks';
      try {
        await this.#runHooks('postInvocation', post);
      } finally {
        coreContext.state = undefined;
      }
      outcome =
        post.error !== null && post.error !== undefined
          ? { ok: false, error: post.error }
          : { ok: true, response: await invocationModel.getResponse(args.context, post.result) };
    } catch (error) {
      outcome = { ok: false, error };
    }

    const duration = Math.round(performance.now() - started);
    // A failure says why on the same line: the first line of the error, not its stack. An orchestrator's
    // failure is the engine's to explain (it logs the orchestration's end with the reason).
    const why =
      outcome.ok || registered.triggerType === 'orchestrationTrigger'
        ? ''
        : `: ${(errorMessage(outcome.error).split('\n')[0] ?? '').trim().slice(0, 300)}`;
    logInvocation(
      () =>
        `Executed 'Functions.${functionName}' (${outcome.ok ? 'Succeeded' : 'Failed'}, Id=${invocationId}, Duration=${duration}ms)${why}`,
    );
    return outcome;
  }

  #registerFunction(
    metadata: { name: string; bindings: Record<string, BindingInfo> },
    callback: FunctionCallback,
  ): Disposable {
    if (!this.#loading) {
      throw new Error(
        `Function "${metadata.name}" was registered after the app started: register functions at load time.`,
      );
    }
    if (this.functions.has(metadata.name)) {
      throw new Error(
        `A function named "${metadata.name}" is already registered: function names must be unique.`,
      );
    }
    const triggerEntry = Object.entries(metadata.bindings).find(
      ([, binding]) => binding.direction === 'in' && /trigger$/i.test(binding.type ?? ''),
    );
    if (!triggerEntry) {
      throw new Error(
        `Function "${metadata.name}" has no trigger binding: every function needs exactly one trigger.`,
      );
    }
    const [triggerKey, trigger] = triggerEntry;
    this.functions.set(metadata.name, {
      name: metadata.name,
      bindings: metadata.bindings,
      callback,
      triggerKey,
      trigger,
      triggerType: trigger.type ?? '',
    });
    return new Disposable(() => this.functions.delete(metadata.name));
  }

  #registerHook(name: string, callback: HookCallback): Disposable {
    if (!hookNames.has(name)) {
      throw new RangeError(`"${name}" is not a hook this host knows (${[...hookNames].join(', ')}).`);
    }
    const list = this.#hooks.get(name) ?? [];
    list.push(callback);
    this.#hooks.set(name, list);
    return new Disposable(() => {
      const current = this.#hooks.get(name) ?? [];
      this.#hooks.set(
        name,
        current.filter((c) => c !== callback),
      );
    });
  }

  async #runHooks(name: string, context: Record<string, unknown>): Promise<void> {
    const hooks = this.#hooks.get(name);
    if (!hooks || hooks.length === 0) return;
    // A copy: a hook that registers or disposes hooks changes the list for the next invocation only.
    for (const hook of [...hooks]) await hook(context);
  }

  #onLog(
    level: string,
    category: string,
    message: string,
    functionName?: string,
    invocationContext?: unknown,
  ): void {
    const hooks = this.#hooks.get('log') ?? [];
    if (hooks.length > 0 && !this.#inLogHook) {
      const context: Record<string, unknown> = {
        hookData: {},
        appHookData: this.#appHookData,
        level,
        message,
        category,
        invocationContext,
      };
      this.#inLogHook = true;
      try {
        for (const hook of hooks) void hook(context);
      } catch (error) {
        this.log.warn(`A log hook threw: ${describeError(error)}`);
      } finally {
        this.#inLogHook = false;
      }
      level = String(context.level);
      message = String(context.message);
    }
    const prefix = functionName ? `[Functions.${functionName}] ` : '';
    if (category === 'system') {
      if (level === 'warning' || level === 'error' || level === 'critical')
        this.log.app(level, `${prefix}${message}`);
      else this.log.debug(`${prefix}${message}`);
      return;
    }
    this.log.app(level, `${prefix}${message}`);
  }
}
