/**
 * The two shapes a chat-completions request takes on Azure OpenAI, and which one a deployment gets.
 *
 * - `reasoning`: the o-series and the GPT-5 family (Learn, "Azure OpenAI reasoning models"). The limit is
 *   `max_completion_tokens`, which covers the hidden reasoning tokens as well as the visible answer (both
 *   are billed as `completion_tokens`, with `completion_tokens_details.reasoning_tokens` saying how many
 *   were reasoning). They refuse `max_tokens` ("Unsupported parameter: 'max_tokens' is not supported with
 *   this model. Use 'max_completion_tokens' instead.") and any `temperature` but the default 1.
 * - `chat`: the classic shape, `max_tokens` and `temperature`: gpt-4o and gpt-4.1, gpt-5-chat, and the
 *   other providers' models the v1 endpoint serves (Mistral, DeepSeek V3, Llama, ...).
 *
 * Azure decides by the model behind a deployment, which its name need not say, so the kind is a setting
 * per tier (AZURE_OPENAI_FAST_KIND, AZURE_OPENAI_STRONG_KIND); without one, `modelKindFromName` guesses
 * from the deployment name. Bicep writes the kind of the models it deploys.
 */

export const modelKinds = ['reasoning', 'chat'] as const;
export type ModelKind = (typeof modelKinds)[number];

/**
 * The documented default when no kind is set: `reasoning` for the OpenAI reasoning families (o1, o3,
 * o4-mini, gpt-5, gpt-5.x, gpt-5.x-chat, gpt-chat-latest, codex-mini), `chat` for gpt-5-chat (the one
 * GPT-5 model without reasoning) and for every other name.
 */
export function modelKindFromName(deployment: string): ModelKind {
  const name = deployment.trim().toLowerCase();
  if (/^gpt-?5-chat\b/.test(name)) return 'chat';
  if (/^(o\d|gpt-?5|gpt-chat-latest|codex-mini)/.test(name)) return 'reasoning';
  return 'chat';
}

/**
 * How hard a reasoning model thinks before it answers (`reasoning_effort`). Every OpenAI reasoning model
 * takes low, medium and high; the GPT-5 family adds minimal (gpt-5) or none (gpt-5.1 and later), and a
 * few take xhigh.
 */
export const reasoningEfforts = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh'] as const;
export type ReasoningEffort = (typeof reasoningEfforts)[number];

/** The length limit and sampling fields of a request, as the kind takes them. */
export interface LimitFields {
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  reasoning_effort?: ReasoningEffort;
}

/**
 * The limit, temperature and effort as the deployment's kind wants them. A reasoning deployment gets no
 * temperature at all (it accepts only the default, and a run never needs to ask for it) and the
 * configured reasoning effort; a chat deployment gets no effort, which it would not know.
 */
export function limitFields(
  kind: ModelKind,
  maxTokens?: number,
  temperature?: number,
  reasoningEffort?: ReasoningEffort,
): LimitFields {
  if (kind === 'reasoning') {
    return {
      ...(maxTokens === undefined ? {} : { max_completion_tokens: maxTokens }),
      ...(reasoningEffort === undefined ? {} : { reasoning_effort: reasoningEffort }),
    };
  }
  return {
    ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }),
    ...(temperature === undefined ? {} : { temperature }),
  };
}

/** The completion limit a request carries, whichever field its kind uses. */
export function tokenLimitOf(body: {
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
}): number | undefined {
  return body.max_completion_tokens ?? body.max_tokens ?? undefined;
}

/** The request with its completion limit set to `limit`, in the field its kind uses (and only that one). */
export function withTokenLimit<
  T extends { max_tokens?: number | null; max_completion_tokens?: number | null },
>(body: T, kind: ModelKind, limit: number): T {
  const { max_tokens: _old, max_completion_tokens: _oldCompletion, ...rest } = body;
  return (
    kind === 'reasoning' ? { ...rest, max_completion_tokens: limit } : { ...rest, max_tokens: limit }
  ) as T;
}

/**
 * The reasoning tokens a completion reports (they are already counted in its completion tokens), or
 * undefined when it reports none.
 */
export function reasoningTokensOf(
  usage: { completion_tokens_details?: { reasoning_tokens?: number | null } | null } | null | undefined,
): number | undefined {
  const reasoning = usage?.completion_tokens_details?.reasoning_tokens;
  return typeof reasoning === 'number' && reasoning > 0 ? reasoning : undefined;
}
