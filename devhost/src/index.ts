/**
 * The devhost as a library: `startDevHost` runs an Azure Functions v4 Node.js app folder in this process,
 * the way `func start` does, with the behaviour of the Durable Task extension.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import path from 'node:path';
import { Dashboard } from './dashboard/dashboard';
import { DurableEngine } from './durable/engine';
import { ManagementApi } from './durable/management';
import { SqliteStore } from './durable/sqlite-store';
import { type DurableStore, MemoryStore } from './durable/store';
import { applyLocalSettings, findEntryPoints, loadEntryPoint, readHostSettings } from './functions/loader';
import { FunctionsRuntime } from './functions/runtime';
import { EasyAuth, type EasyAuthSettings, parseEasyAuthSettings } from './http/easyauth';
import { type HostKeys, durableSystemKeyName, loadOrCreateHostKeys } from './http/keys';
import {
  type HostRequestContext,
  answerClientError,
  handleRequest,
  handleRpcRequest,
  httpRoutes,
} from './http/server';
import { HostLog, type LogLevel, describeError, parseLogLevel } from './log';

export type { DurableStore } from './durable/store';
export { MemoryStore } from './durable/store';
export { SqliteStore } from './durable/sqlite-store';
export type { LogLevel } from './log';
export type { EasyAuthSettings } from './http/easyauth';
export type { HostKeys } from './http/keys';

/** What `--auth azure` checks, as Azure does (see README, "Azure-like auth"). */
export interface AzureAuthOptions {
  /**
   * The keys file (`{masterKey, functionKeys, systemKeys, functions}`); created with new keys when absent.
   * Without it, keys are generated for this start only.
   */
  keysFile?: string;
  /**
   * App Service Authentication: the `properties` of an `authsettingsV2` resource, or a JSON file holding
   * them. Absent: no App Service Authentication, only the host's key checks.
   */
  easyAuth?: string | EasyAuthSettings;
}

export interface DevHostOptions {
  /** The Functions app folder (the one with host.json and package.json); used as built. */
  appDir: string;
  /** 7071 unless given; 0 picks a free port. */
  port?: number;
  /** Interface to listen on; 127.0.0.1 unless given. */
  host?: string;
  /** Where log lines go; console.log unless given. */
  log?: (line: string) => void;
  /** quiet | info | verbose; DEVHOST_LOG or info unless given. */
  logLevel?: LogLevel;
  /** The durable store; unless given, a SQLite store in `dataDir`, or a fresh in-memory store without one. */
  store?: DurableStore;
  /** Folder for the durable store (`durable.sqlite`); ignored when `store` is given. */
  dataDir?: string;
  /** Check function keys and play App Service Authentication as Azure does; absent: nothing is checked. */
  azureAuth?: AzureAuthOptions;
}

export interface DevHost {
  /** `http://127.0.0.1:PORT`, without a trailing slash. */
  url: string;
  port: number;
  /** With `azureAuth`: the keys requests must present (`x-functions-key` or `?code=`). */
  keys?: HostKeys;
  /** Stops serving, stops the durable engine and runs the app's appTerminate hooks. Safe to call twice. */
  stop(): Promise<void>;
}

let running = false;

/**
 * Starts the host for one app in this process. local.settings.json `Values` are merged into process.env
 * first (variables already set win), and the app is loaded after that, so it reads the merged environment.
 * Only one devhost can run per process: the app's `@azure/functions` finds its runtime through a
 * process-wide hook, as under the Node worker.
 */
export async function startDevHost(options: DevHostOptions): Promise<DevHost> {
  if (running)
    throw new Error('A devhost is already running in this process; stop it before starting another.');
  const appDir = path.resolve(options.appDir);
  const log = new HostLog(
    options.log ?? ((line) => console.log(line)),
    options.logLevel ?? parseLogLevel(process.env.DEVHOST_LOG, 'DEVHOST_LOG'),
  );
  const applied = applyLocalSettings(appDir);
  if (applied.length > 0) log.debug(`local.settings.json: applied ${applied.join(', ')}`);
  const settings = readHostSettings(appDir);
  const entryPoints = findEntryPoints(appDir);
  const azure = options.azureAuth ? prepareAzureAuth(options.azureAuth) : undefined;
  running = true;

  const host = options.host ?? '127.0.0.1';
  let context: HostRequestContext | undefined;
  const server = createServer((req, res) => {
    void handleRequest(context, req, res, `${host}:${String(port)}`);
  });
  // A client that half-closes after sending its request still gets the answer, as from the real
  // host; Node's default ends the socket at the client's FIN, which loses answers that take a moment
  // (a streamed function's always do).
  (server as unknown as { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  server.on('clientError', answerClientError);
  // The extension's rpc endpoint lives on its own loopback port, out of reach of the app's callers.
  const rpcServer = azure
    ? createServer((req, res) => {
        void handleRpcRequest(context, req, res);
      })
    : undefined;
  let port = 0;
  const runtime = new FunctionsRuntime(log);
  let uninstall: (() => void) | undefined;
  let engine: DurableEngine | undefined;
  let store: DurableStore | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 7071, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    port = (server.address() as AddressInfo).port;
    if (rpcServer) {
      await new Promise<void>((resolve, reject) => {
        rpcServer.once('error', reject);
        rpcServer.listen(0, '127.0.0.1', () => resolve());
      });
    }
    const publicHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    const origin = `http://${publicHost}:${port}`;
    // The durable client rewrites its URLs to localhost:7071 unless WEBSITE_HOSTNAME names the real host.
    process.env.WEBSITE_HOSTNAME = `${publicHost}:${port}`;
    process.env.FUNCTIONS_WORKER_RUNTIME ??= 'node';
    process.env.AzureWebJobsScriptRoot = appDir;

    uninstall = runtime.installCoreModule();
    for (const file of entryPoints) {
      try {
        await loadEntryPoint(appDir, file);
      } catch (error) {
        throw new Error(`Loading ${path.join(appDir, file)} failed: ${describeError(error)}`, {
          cause: error,
        });
      }
    }
    await runtime.finishLoading();
    await runtime.runAppHooks('appStart', appDir);

    store = options.store ?? (options.dataDir ? new SqliteStore(options.dataDir) : new MemoryStore());
    if (settings.storageProvider) {
      log.warn(
        `host.json sets extensions.durableTask.storageProvider (type '${settings.storageProvider}'): ` +
          `the devhost ignores it and keeps durable state in its own ${options.dataDir ? `SQLite store in ${options.dataDir}` : 'store'}.`,
      );
    }
    log.info(
      options.store
        ? 'Durable store: given by the caller.'
        : options.dataDir
          ? `Durable store: SQLite in ${options.dataDir} (survives restarts and crashes).`
          : 'Durable store: in memory (gone when the host stops).',
    );
    engine = new DurableEngine(store, runtime, log, settings.durable);
    const resumed = await engine.recover();
    if (resumed > 0)
      log.info(`Durable store: resumed ${String(resumed)} instances, entities and work items in flight.`);
    const routes = httpRoutes(runtime, settings.routePrefix);
    context = {
      runtime,
      engine,
      management: new ManagementApi(engine, settings.hubName),
      dashboard: new Dashboard(engine, settings.hubName, () => {
        const of = (type: string) =>
          [...runtime.functions.values()]
            .filter((f) => f.triggerType === type)
            .map((f) => f.name)
            .sort((a, b) => a.localeCompare(b));
        return { orchestrations: of('orchestrationTrigger'), entities: of('entityTrigger') };
      }),
      routes,
      hubName: settings.hubName,
      log,
      origin,
      ...(azure && rpcServer
        ? {
            azure: {
              keys: azure.keys,
              ...(azure.easyAuth ? { easyAuth: azure.easyAuth } : {}),
              rpcOrigin: `http://127.0.0.1:${String((rpcServer.address() as AddressInfo).port)}`,
            },
          }
        : {}),
    };

    log.info('');
    log.info('Functions:');
    log.info('');
    for (const fn of runtime.functions.values()) {
      const httpRoute = routes.find((r) => r.functionName === fn.name);
      if (httpRoute) {
        const methods = httpRoute.methods.length > 0 ? httpRoute.methods.join(',') : allMethodsLabel;
        log.info(`        ${fn.name}: [${methods}] ${origin}/${httpRoute.template.template}`);
      } else {
        log.info(`        ${fn.name}: ${fn.triggerType}`);
      }
      log.info('');
    }
    if (runtime.functions.size === 0)
      log.warn(`No functions found in ${appDir} ("main": ${entryPoints.join(', ')}).`);
    log.info(
      `Durable Functions management API: ${origin}${'/runtime/webhooks/durabletask'} (task hub ${settings.hubName})`,
    );
    log.info(`Dashboard (local only): ${origin}/_devhost/`);
    if (azure) {
      log.info('');
      log.info(
        `Azure-like auth (--auth azure). Keys ${azure.keysSource}; send one as x-functions-key or ?code=:`,
      );
      for (const [name, key] of Object.entries(azure.keys.functionKeys))
        log.info(`  function key ${name}: ${key}`);
      log.info(`  master key: ${azure.keys.masterKey}`);
      log.info(
        `  system key ${durableSystemKeyName} (the management API): ${azure.keys.systemKeys[durableSystemKeyName] ?? ''}`,
      );
      const ea = azure.easyAuth?.settings;
      if (ea?.enabled) {
        log.info(
          `App Service Authentication (${azure.easyAuthSource}): unauthenticated requests ${describeAction(ea)}` +
            `${ea.excludedPaths.length > 0 ? `; excluded: ${ea.excludedPaths.join(', ')}` : ''}; token store ${ea.tokenStore ? 'on' : 'off'}.`,
        );
        log.info(
          `  sign in (local stand-in for Microsoft Entra ID): ${origin}/.auth/login/aad; API clients get a token from POST ${origin}/.auth/local/token`,
        );
      } else {
        log.info('App Service Authentication: off (no --easy-auth settings).');
      }
      log.info('');
    }
    log.info(`Host started (devhost). Listening on ${origin}`);
  } catch (error) {
    await engine?.stop();
    await store?.close();
    if (rpcServer) await closeServer(rpcServer);
    await closeServer(server);
    await runtime.close();
    uninstall?.();
    running = false;
    throw error;
  }

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      context = undefined;
      const closed = Promise.all([closeServer(server), rpcServer ? closeServer(rpcServer) : undefined]);
      await engine?.stop();
      try {
        await runtime.runAppHooks('appTerminate', appDir);
      } catch (error) {
        log.error(`An appTerminate hook failed: ${describeError(error)}`);
      }
      await closed;
      await runtime.close();
      await store?.close();
      uninstall?.();
      running = false;
    })();
    return stopping;
  };
  return {
    url: `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`,
    port,
    ...(azure ? { keys: azure.keys } : {}),
    stop,
  };
}

function prepareAzureAuth(options: AzureAuthOptions): {
  keys: HostKeys;
  keysSource: string;
  easyAuth?: EasyAuth;
  easyAuthSource: string;
} {
  const { keys, source } = loadOrCreateHostKeys(options.keysFile);
  let settings: EasyAuthSettings | undefined;
  let easyAuthSource = 'given by the caller';
  if (typeof options.easyAuth === 'string') {
    easyAuthSource = `from ${options.easyAuth}`;
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(options.easyAuth, 'utf8'));
    } catch (error) {
      throw new Error(
        `Reading App Service Authentication settings from ${options.easyAuth} failed: ${describeError(error)}`,
        {
          cause: error,
        },
      );
    }
    settings = parseEasyAuthSettings(json, options.easyAuth);
  } else if (options.easyAuth) {
    settings = options.easyAuth;
  }
  return {
    keys,
    keysSource: source,
    ...(settings ? { easyAuth: new EasyAuth(settings, keys.masterKey) } : {}),
    easyAuthSource,
  };
}

function describeAction(settings: EasyAuthSettings): string {
  if (!settings.requireAuthentication) return 'pass (AllowAnonymous)';
  switch (settings.unauthenticatedClientAction) {
    case 'RedirectToLoginPage':
      return 'from browsers are redirected to sign in, others get 401 (RedirectToLoginPage)';
    case 'Return401':
      return 'get 401 (Return401)';
    case 'Return403':
      return 'get 403 (Return403)';
    case 'AllowAnonymous':
      return 'pass (AllowAnonymous)';
  }
}

const allMethodsLabel = 'GET,POST,PUT,DELETE,PATCH,HEAD,OPTIONS,TRACE';

function closeServer(server: ReturnType<typeof createServer>): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
