/**
 * The model deployments the emulated Azure OpenAI resource has, and how each takes its requests.
 *
 * Azure decides by the model behind a deployment: the o-series and the GPT-5 family are reasoning
 * models (Learn, "Azure OpenAI reasoning models"): they refuse `max_tokens` and any `temperature` but the
 * default, take `max_completion_tokens`, and report the hidden reasoning in
 * `completion_tokens_details.reasoning_tokens`. The others (gpt-4o, gpt-4.1, gpt-5-chat, other providers'
 * models) take the classic `max_tokens` and `temperature`.
 */

export type ModelKind = 'reasoning' | 'chat';

export interface Deployment {
  name: string;
  kind: ModelKind;
  /** The model and version the answers name in `model`, such as gpt-5.4-mini-2026-03-17. */
  model: string;
}

/** What a deployment option may be: a name (the model is the name) or a name with its kind. */
export type DeploymentOption = string | { name: string; kind: ModelKind; model?: string };

/** Versions the answers report, for the models the templates and the tests use. */
const modelVersions: Record<string, string> = {
  'gpt-5.4-mini': 'gpt-5.4-mini-2026-03-17',
  'gpt-5.4': 'gpt-5.4-2026-03-05',
  'gpt-4o-mini': 'gpt-4o-mini-2024-07-18',
  'gpt-4o': 'gpt-4o-2024-11-20',
  'gpt-4.1': 'gpt-4.1-2025-04-14',
  'gpt-4.1-mini': 'gpt-4.1-mini-2025-04-14',
};

/**
 * By default the two reasoning deployments the Bicep templates create (gpt-5.4-mini, gpt-5.4), and two
 * chat-shaped ones (gpt-4o-mini, gpt-4o) for clients and tests that use the classic request shape.
 */
export const defaultDeployments: readonly DeploymentOption[] = [
  'gpt-5.4-mini',
  'gpt-5.4',
  'gpt-4o-mini',
  'gpt-4o',
];

/** The kind a model name says: reasoning for the o-series and GPT-5 family, chat for gpt-5-chat and others. */
export function kindOfModel(model: string): ModelKind {
  const name = model.trim().toLowerCase();
  if (/^gpt-?5-chat\b/.test(name)) return 'chat';
  if (/^(o\d|gpt-?5|gpt-chat-latest|codex-mini)/.test(name)) return 'reasoning';
  return 'chat';
}

export function toDeployment(option: DeploymentOption): Deployment {
  if (typeof option === 'string') {
    return { name: option, kind: kindOfModel(option), model: modelVersions[option] ?? option };
  }
  const model = option.model ?? option.name;
  return { name: option.name, kind: option.kind, model: modelVersions[model] ?? model };
}
