import { z } from 'zod';
import {
  modelKindFromName,
  modelKinds,
  reasoningEfforts,
  type ModelKind,
  type ReasoningEffort,
} from './agents/modelKinds';
import { devSigningKey, minSigningKeyChars } from './lib/capability';
import { webhookKey } from './lib/webhooks';

/**
 * Every setting the app reads, in one schema. This module is the only reader of `process.env`;
 * everything else receives a typed `AppConfig`.
 *
 * Locally the values come from `local.settings.json` (copied from `local.settings.sample.json`); in
 * Azure they are app settings written by `bicep/`. A test keeps the three lists in step.
 */

/** Unset and empty are the same thing for an app setting: Azure and func start both write "". */
const blankToUndefined = (value: unknown): unknown =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

const setting = <T extends z.ZodType>(schema: T) => z.preprocess(blankToUndefined, schema);

const httpUrl = (example: string) =>
  z.url({
    protocol: /^https?$/,
    error: `expected an http(s) URL such as ${example}`,
  });

const positiveInt = (example: number) =>
  z.coerce
    .number({ error: `expected a positive whole number such as ${example}` })
    .int({ error: `expected a positive whole number such as ${example}` })
    .positive({ error: `expected a positive whole number such as ${example}` });

const flag = z
  .enum(['true', 'false', '1', '0'], { error: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1');

const deploymentName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
  error: 'expected a model deployment name such as gpt-5.4-mini',
});

const modelKind = z.enum(modelKinds, {
  error:
    'expected reasoning (max_completion_tokens, no temperature: o-series, GPT-5 family) or chat (max_tokens, temperature)',
});

/**
 * `Authorization=AAD;ClientId=<client id>` (the App Service and Functions convention, which Bicep writes):
 * telemetry authenticates to Application Insights with that managed identity (no ClientId: the
 * system-assigned one). Anything else is refused rather than ignored, since local auth is off in Azure.
 */
export function parseAppInsightsAuthentication(value: string): { clientId?: string } | undefined {
  const pairs = value
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => p.split('='));
  if (pairs.some((p) => p.length !== 2 || !p[0] || !p[1])) return undefined;
  const fields = new Map(pairs.map(([k, v]) => [(k ?? '').toLowerCase(), v ?? '']));
  const known = new Set(['authorization', 'clientid']);
  if (fields.get('authorization') !== 'AAD' || [...fields.keys()].some((k) => !known.has(k)))
    return undefined;
  const clientId = fields.get('clientid');
  return clientId ? { clientId } : {};
}

export const settingsSchema = z.object({
  /** Storage for the Functions host, durable state and result blobs (a connection string, locally). */
  AzureWebJobsStorage: setting(
    z.string({ error: 'expected a storage connection string, or UseDevelopmentStorage=true' }).optional(),
  ),
  /** Identity-based storage in Azure: the blob endpoint of the app's storage account. */
  AzureWebJobsStorage__blobServiceUri: setting(httpUrl('https://<account>.blob.core.windows.net').optional()),
  /** Client id of the user-assigned managed identity the app uses for every Azure service. */
  AZURE_CLIENT_ID: setting(z.string().optional()),
  /** Durable Functions task hub; host.json reads it as %TASK_HUB_NAME%. */
  TASK_HUB_NAME: setting(
    z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9]{2,44}$/, {
        error: 'expected 3-45 letters and digits, starting with a letter, such as agentruns',
      })
      .default('agentruns'),
  ),

  AZURE_OPENAI_ENDPOINT: setting(
    httpUrl('https://<resource>.openai.azure.com/ (or the emulator, http://127.0.0.1:7072)'),
  ),
  /**
   * `v1` (the default): the GA v1 API, /openai/v1/ with no dated version, which the GPT-5 family and the
   * o-series need. A dated version (such as 2025-04-01-preview) uses the older /openai/deployments/ path.
   */
  AZURE_OPENAI_API_VERSION: setting(
    z
      .string()
      .regex(/^(v1|\d{4}-\d{2}-\d{2}(-preview)?)$/, {
        error: 'expected v1 (the GA v1 API) or a dated API version such as 2025-04-01-preview',
      })
      .default('v1'),
  ),
  /** Optional: without it, model calls use Microsoft Entra ID (the managed identity in Azure). */
  AZURE_OPENAI_API_KEY: setting(z.string().optional()),
  AZURE_OPENAI_FAST_DEPLOYMENT: setting(deploymentName),
  AZURE_OPENAI_STRONG_DEPLOYMENT: setting(deploymentName),
  /** The request shape of each deployment (src/agents/modelKinds.ts); unset, the deployment name decides. */
  AZURE_OPENAI_FAST_KIND: setting(modelKind.optional()),
  AZURE_OPENAI_STRONG_KIND: setting(modelKind.optional()),
  /**
   * reasoning_effort for reasoning deployments. Low by default: reasoning tokens come out of each call's
   * completion limit (and the run's budget), and a call that reasons its whole limit away answers nothing.
   */
  AZURE_OPENAI_REASONING_EFFORT: setting(
    z.enum(reasoningEfforts, { error: `expected one of ${reasoningEfforts.join(', ')}` }).default('low'),
  ),

  /** Azure AI Foundry project endpoint for the Agent Service; research subtasks need it. */
  AZURE_AI_PROJECT_ENDPOINT: setting(
    httpUrl('https://<account>.services.ai.azure.com/api/projects/<project>').optional(),
  ),
  /** Connection id of the Bing grounding resource in the Foundry project. */
  BING_CONNECTION_ID: setting(z.string().optional()),

  RESULTS_CONTAINER: setting(
    z
      .string()
      .regex(/^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$/, { error: 'expected a blob container name' })
      .default('results'),
  ),
  MODEL_CACHE_CONTAINER: setting(
    z
      .string()
      .regex(/^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$/, { error: 'expected a blob container name' })
      .default('model-cache'),
  ),
  /** 0 turns the model response cache off. */
  MODEL_CACHE_TTL_SECONDS: setting(z.coerce.number().int().min(0).default(0)),

  /** `dev` trusts a missing principal as `local-user`; `appservice` requires App Service Authentication. */
  AUTH_MODE: setting(
    z.enum(['dev', 'appservice'], { error: 'expected dev (local only) or appservice' }).default('appservice'),
  ),

  /**
   * Secret that signs the per-run URLs the starter hands out and the approval events the product raises.
   * Required with AUTH_MODE=appservice (Bicep generates it and keeps it in Key Vault); AUTH_MODE=dev
   * falls back to a public development key, which proves nothing.
   */
  RUN_URL_SIGNING_KEY: setting(
    z
      .string()
      .min(minSigningKeyChars, {
        error: `expected a random secret of at least ${minSigningKeyChars} characters (for example: openssl rand -base64 48)`,
      })
      .optional(),
  ),
  /**
   * `scoped` (default): the starter's status, event, terminate and purge URLs are the product's own, one
   * run each. `builtin`: the raw Durable management URLs with the task hub's system key; single-tenant only.
   */
  STATUS_URLS: setting(
    z
      .enum(['scoped', 'builtin'], {
        error: 'expected scoped (per-run URLs) or builtin (the raw Durable URLs)',
      })
      .default('scoped'),
  ),

  QUOTA_DEFAULT_MONTHLY_TOKENS: setting(positiveInt(200000).default(200000)),
  RUN_DEFAULT_MAX_TOKENS: setting(positiveInt(20000).default(20000)),
  RUN_MAX_SUBTASKS: setting(positiveInt(8).max(32).default(8)),
  RUN_MAX_TOOL_TURNS: setting(positiveInt(6).max(20).default(6)),
  RUN_MAX_PROMPT_CHARS: setting(positiveInt(8000).default(8000)),
  RUN_MAX_BODY_BYTES: setting(positiveInt(65536).default(65536)),
  APPROVAL_DEFAULT_TIMEOUT_MINUTES: setting(positiveInt(60).default(60)),
  APPROVAL_MAX_REVISIONS: setting(positiveInt(3).max(10).default(3)),
  /** A research subtask whose Agent Service run has not finished after this long is given up. */
  RESEARCH_TIMEOUT_SECONDS: setting(positiveInt(600).max(3600).default(600)),
  /** Tools that reach the network stay off unless this is true. */
  TOOLS_ALLOW_NETWORK: setting(flag.default(false)),

  /** Signs webhooks (Standard Webhooks): `whsec_` + base64 of at least 16 random bytes. Without it, runs cannot ask for webhooks. */
  WEBHOOK_SECRET: setting(
    z
      .string()
      .refine((v) => webhookKey(v) !== undefined, {
        error: 'expected whsec_ followed by the base64 of at least 16 random bytes',
      })
      .optional(),
  ),
  /** Lets webhooks reach loopback, private and link-local addresses: for local development only. */
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: setting(flag.default(false)),

  /** In Azure: spans go to this Application Insights component (Bicep writes it). */
  APPLICATIONINSIGHTS_CONNECTION_STRING: setting(z.string().optional()),
  /**
   * In Azure: `Authorization=AAD;ClientId=<identity>` (Bicep writes it; Application Insights has local auth
   * off), so the app's exporter authenticates with that managed identity, as the host does.
   */
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: setting(
    z
      .string()
      .refine((v) => parseAppInsightsAuthentication(v) !== undefined, {
        error: 'expected Authorization=AAD;ClientId=<client id of the managed identity>',
      })
      .optional(),
  ),
  /** Locally: spans go to this OTLP/HTTP endpoint (e.g. http://127.0.0.1:4318); unset, nowhere. */
  OTEL_EXPORTER_OTLP_ENDPOINT: setting(httpUrl('http://127.0.0.1:4318').optional()),
  /** Records prompts and answers as span events. Off by default: they are the users' data. */
  OTEL_GENAI_CAPTURE_CONTENT: setting(flag.default(false)),
});

/**
 * Rules that span settings. They run on the raw values, next to the schema, so that one message lists
 * them together with every other problem.
 */
function crossSettingProblems(raw: Record<string, unknown>): { key: string; message: string }[] {
  const present = (key: string) => blankToUndefined(raw[key]) !== undefined;
  const problems: { key: string; message: string }[] = [];
  if (!present('AzureWebJobsStorage') && !present('AzureWebJobsStorage__blobServiceUri')) {
    problems.push({
      key: 'AzureWebJobsStorage',
      message:
        'missing; expected a storage connection string (UseDevelopmentStorage=true locally) or, in Azure, AzureWebJobsStorage__blobServiceUri with a managed identity',
    });
  }
  if (!present('RUN_URL_SIGNING_KEY') && (blankToUndefined(raw.AUTH_MODE) ?? 'appservice') === 'appservice') {
    problems.push({
      key: 'RUN_URL_SIGNING_KEY',
      message:
        'missing; required with AUTH_MODE=appservice: a random secret of at least 32 characters that signs per-run URLs and approval events (Bicep generates one in Azure)',
    });
  }
  if (present('AZURE_AI_PROJECT_ENDPOINT') && !present('BING_CONNECTION_ID')) {
    problems.push({
      key: 'BING_CONNECTION_ID',
      message:
        'missing; required when AZURE_AI_PROJECT_ENDPOINT is set: the id of the Bing grounding connection in the Foundry project',
    });
  }
  return problems;
}

export type Settings = z.output<typeof settingsSchema>;

/** The setting names, for the drift test against local.settings.sample.json and bicep. */
export const settingNames: readonly string[] = Object.keys(settingsSchema.shape);

export interface TelemetryConfig {
  readonly applicationInsightsConnectionString?: string;
  /** Microsoft Entra ID for the export (APPLICATIONINSIGHTS_AUTHENTICATION_STRING): this managed identity. */
  readonly applicationInsightsEntra?: { readonly clientId?: string };
  readonly otlpEndpoint?: string;
  readonly captureContent: boolean;
}

export interface AppConfig {
  readonly taskHubName: string;
  readonly storage:
    | { readonly kind: 'connectionString'; readonly connectionString: string }
    | { readonly kind: 'identity'; readonly blobServiceUri: string; readonly clientId?: string };
  readonly resultsContainer: string;
  readonly modelCache: { readonly container: string; readonly ttlSeconds: number };
  readonly openai: {
    readonly endpoint: string;
    readonly apiVersion: string;
    readonly apiKey?: string;
    readonly fastDeployment: string;
    readonly strongDeployment: string;
    /** How each deployment takes its requests (src/agents/modelKinds.ts). */
    readonly fastKind: ModelKind;
    readonly strongKind: ModelKind;
    /** Sent to reasoning deployments as reasoning_effort. */
    readonly reasoningEffort: ReasoningEffort;
  };
  readonly agents?: { readonly projectEndpoint: string; readonly bingConnectionId: string };
  readonly managedIdentityClientId?: string;
  readonly authMode: 'dev' | 'appservice';
  readonly quota: { readonly defaultMonthlyTokens: number };
  readonly limits: {
    readonly defaultRunMaxTokens: number;
    readonly maxSubtasks: number;
    readonly maxToolTurns: number;
    readonly maxPromptChars: number;
    readonly maxBodyBytes: number;
    readonly approvalDefaultTimeoutMinutes: number;
    readonly approvalMaxRevisions: number;
    readonly researchTimeoutSeconds: number;
  };
  readonly toolsAllowNetwork: boolean;
  readonly telemetry: TelemetryConfig;
  /** Signs per-run capability URLs and approval events (the public dev key only in dev mode). */
  readonly runUrlSigningKey: string;
  readonly statusUrls: 'scoped' | 'builtin';
  readonly webhooks: {
    /** The signing key; without it the start request refuses a webhook. */
    readonly key?: Buffer;
    readonly allowPrivateNetworks: boolean;
    /** Deployed (App Service Authentication) means https only; local dev may use http receivers. */
    readonly requireHttps: boolean;
  };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly { key: string; message: string }[]) {
    super(
      [
        `Invalid configuration: ${problems.length} setting${problems.length === 1 ? '' : 's'} missing or invalid.`,
        ...problems.map((p) => `  - ${p.key}: ${p.message}`),
        'Locally, settings live in local.settings.json "Values" (copy local.settings.sample.json to start);',
        'in Azure they are the Function App settings written by bicep/.',
      ].join('\n'),
    );
  }
}

/** Reads and checks every setting at once; throws a `ConfigError` that lists every bad key. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const raw = Object.fromEntries(settingNames.map((key) => [key, env[key]]));
  const parsed = settingsSchema.safeParse(raw);
  const crossProblems = crossSettingProblems(raw);
  if (!parsed.success || crossProblems.length > 0) {
    const schemaProblems = (parsed.error?.issues ?? []).map((issue) => {
      const key = issue.path.map(String).join('.') || '(settings)';
      const missing = blankToUndefined(raw[key]) === undefined;
      const message =
        missing && !issue.message.startsWith('missing') ? `missing; ${issue.message}` : issue.message;
      return { key, message: withValue(message, raw[key], key) };
    });
    throw new ConfigError([...schemaProblems, ...crossProblems]);
  }
  return toAppConfig(parsed.data);
}

/** Shows the bad value, except for anything that may be a secret. */
function withValue(message: string, value: unknown, key: string): string {
  if (typeof value !== 'string' || value.trim() === '' || /KEY|Storage$|SECRET/i.test(key)) return message;
  return `${message} (got "${value.length > 80 ? `${value.slice(0, 80)}...` : value}")`;
}

function toAppConfig(s: Settings): AppConfig {
  const clientId = s.AZURE_CLIENT_ID;
  return {
    taskHubName: s.TASK_HUB_NAME,
    storage: s.AzureWebJobsStorage
      ? { kind: 'connectionString', connectionString: s.AzureWebJobsStorage }
      : {
          kind: 'identity',
          blobServiceUri: s.AzureWebJobsStorage__blobServiceUri ?? '',
          ...(clientId ? { clientId } : {}),
        },
    resultsContainer: s.RESULTS_CONTAINER,
    modelCache: { container: s.MODEL_CACHE_CONTAINER, ttlSeconds: s.MODEL_CACHE_TTL_SECONDS },
    openai: {
      endpoint: s.AZURE_OPENAI_ENDPOINT,
      apiVersion: s.AZURE_OPENAI_API_VERSION,
      ...(s.AZURE_OPENAI_API_KEY ? { apiKey: s.AZURE_OPENAI_API_KEY } : {}),
      fastDeployment: s.AZURE_OPENAI_FAST_DEPLOYMENT,
      strongDeployment: s.AZURE_OPENAI_STRONG_DEPLOYMENT,
      fastKind: s.AZURE_OPENAI_FAST_KIND ?? modelKindFromName(s.AZURE_OPENAI_FAST_DEPLOYMENT),
      strongKind: s.AZURE_OPENAI_STRONG_KIND ?? modelKindFromName(s.AZURE_OPENAI_STRONG_DEPLOYMENT),
      reasoningEffort: s.AZURE_OPENAI_REASONING_EFFORT,
    },
    ...(s.AZURE_AI_PROJECT_ENDPOINT && s.BING_CONNECTION_ID
      ? { agents: { projectEndpoint: s.AZURE_AI_PROJECT_ENDPOINT, bingConnectionId: s.BING_CONNECTION_ID } }
      : {}),
    ...(clientId ? { managedIdentityClientId: clientId } : {}),
    authMode: s.AUTH_MODE,
    quota: { defaultMonthlyTokens: s.QUOTA_DEFAULT_MONTHLY_TOKENS },
    limits: {
      defaultRunMaxTokens: s.RUN_DEFAULT_MAX_TOKENS,
      maxSubtasks: s.RUN_MAX_SUBTASKS,
      maxToolTurns: s.RUN_MAX_TOOL_TURNS,
      maxPromptChars: s.RUN_MAX_PROMPT_CHARS,
      maxBodyBytes: s.RUN_MAX_BODY_BYTES,
      approvalDefaultTimeoutMinutes: s.APPROVAL_DEFAULT_TIMEOUT_MINUTES,
      approvalMaxRevisions: s.APPROVAL_MAX_REVISIONS,
      researchTimeoutSeconds: s.RESEARCH_TIMEOUT_SECONDS,
    },
    toolsAllowNetwork: s.TOOLS_ALLOW_NETWORK,
    telemetry: {
      applicationInsightsConnectionString: s.APPLICATIONINSIGHTS_CONNECTION_STRING,
      ...(s.APPLICATIONINSIGHTS_AUTHENTICATION_STRING
        ? {
            applicationInsightsEntra: parseAppInsightsAuthentication(
              s.APPLICATIONINSIGHTS_AUTHENTICATION_STRING,
            ),
          }
        : {}),
      otlpEndpoint: s.OTEL_EXPORTER_OTLP_ENDPOINT,
      captureContent: s.OTEL_GENAI_CAPTURE_CONTENT,
    },
    runUrlSigningKey: s.RUN_URL_SIGNING_KEY ?? devSigningKey,
    statusUrls: s.STATUS_URLS,
    webhooks: {
      ...(s.WEBHOOK_SECRET ? { key: webhookKey(s.WEBHOOK_SECRET) } : {}),
      allowPrivateNetworks: s.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
      requireHttps: s.AUTH_MODE === 'appservice',
    },
  };
}
