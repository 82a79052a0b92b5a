import type { AzureOpenAI } from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { z } from 'zod';
import { plannerPrompt, revisionPrompt, synthesisPrompt } from '../../src/agents/prompts';
import { runTool, toolDefinitions } from '../../src/agents/tools';
import { toolNames } from '../../src/contracts/tools';
import { planSchema } from '../../src/contracts/agentRun';
import { groundedAnswer } from '../src/agents/research';

/**
 * The calls a run makes, in the shapes the product sends them (src/orchestrators: the planner in
 * agentRun.ts, the answer subtask's tool loop in answerSubtask.ts, the synthesis's findings in
 * agentRun.ts, the revision in approval.ts), through the real AzureOpenAI client. The tools are the
 * app's own (src/agents/tools.ts); research is the Agent Service emulator's grounded answer with its
 * markers numbered as the app's collectResearch numbers them.
 */

export type Plan = z.output<ReturnType<typeof planSchema>>['subtasks'];

export async function plan(openai: AzureOpenAI, prompt: string, maxSubtasks = 8): Promise<Plan> {
  const schema = planSchema(maxSubtasks, toolNames);
  const completion = await openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: plannerPrompt },
      {
        role: 'user',
        content:
          `Request: ${prompt}\n\nTools available: ${toolNames.join(', ')}. ` +
          `Research available: yes. At most ${maxSubtasks} subtasks.`,
      },
    ],
    response_format: {
      type: 'json_schema',
      json_schema: { name: 'plan', schema: z.toJSONSchema(schema) },
    },
  });
  return schema.parse(JSON.parse(completion.choices[0]?.message.content ?? '')).subtasks;
}

/** An answer subtask: model turns with the app's tools, each tool call run by the app's runTool. */
export async function answerPart(
  openai: AzureOpenAI,
  prompt: string,
  part: { title: string; instructions: string },
  tools: readonly string[] = toolNames,
): Promise<{ text: string; toolCalls: { name: string; arguments: string }[] }> {
  const messages: ChatCompletionMessageParam[] = [
    { role: 'system', content: 'You work on one part of a larger request.' },
    {
      role: 'user',
      content: `The whole request: ${prompt}\n\nYour part: ${part.title}\n${part.instructions}`,
    },
  ];
  const toolCalls: { name: string; arguments: string }[] = [];
  for (let turn = 0; turn < 4; turn++) {
    const completion = await openai.chat.completions.create({
      model: 'gpt-4o',
      messages,
      ...(tools.length > 0 ? { tools: toolDefinitions(tools) } : {}),
    });
    const message = completion.choices[0]?.message;
    const calls = (message?.tool_calls ?? []).flatMap((c) => (c.type === 'function' ? [c] : []));
    if (!message || calls.length === 0) return { text: message?.content ?? '', toolCalls };
    messages.push(message);
    for (const call of calls) {
      toolCalls.push({ name: call.function.name, arguments: call.function.arguments });
      const result = await runTool(call.function.name, call.function.arguments, {
        now: new Date('2026-03-01T12:00:00Z'),
        allowNetwork: false,
      });
      messages.push({ role: 'tool', tool_call_id: call.id, content: result.content });
    }
  }
  throw new Error('no answer after 4 turns');
}

export interface Finding {
  title: string;
  text: string;
  sources?: { title: string; url: string }[];
  error?: string;
}

/** Findings as the run lists them for the synthesis, sources numbered across all findings. */
export function findingsText(findings: readonly Finding[]): string {
  let n = 0;
  return findings
    .map((f, i) => {
      if (f.error) return `[s${i + 1}] ${f.title}: could not be done (${f.error})`;
      const first = n + 1;
      const sources = (f.sources ?? []).map((s) => `  [${++n}] ${s.title} ${s.url}`).join('\n');
      // A subtask's own [1] is its first source: renumbered to the run's numbers.
      const text = f.text.replace(/\[(\d+)\]/g, (_m, local: string) => `[${first + Number(local) - 1}]`);
      return `[s${i + 1}] ${f.title}:\n${text}${sources ? `\n  Sources:\n${sources}` : ''}`;
    })
    .join('\n\n');
}

export async function synthesize(openai: AzureOpenAI, prompt: string, findings: readonly Finding[]) {
  const completion = await openai.chat.completions.create({
    model: 'gpt-4o',
    messages: [
      { role: 'system', content: synthesisPrompt },
      { role: 'user', content: `Request: ${prompt}\n\nFindings:\n${findingsText(findings)}` },
    ],
  });
  return completion.choices[0]?.message.content ?? '';
}

export async function revise(openai: AzureOpenAI, prompt: string, draft: string, comment: string) {
  const completion = await openai.chat.completions.create({
    model: 'gpt-4o',
    messages: [
      { role: 'system', content: revisionPrompt },
      {
        role: 'user',
        content: `Request: ${prompt}\n\nDraft:\n${draft}\n\nSources:\nnone\n\nReviewer comment: ${comment}`,
      },
    ],
  });
  return completion.choices[0]?.message.content ?? '';
}

/** A research subtask's result: the grounded answer, its markers replaced by [n] in citation order. */
export function research(query: string): Finding & { sources: { title: string; url: string }[] } {
  const answer = groundedAnswer(query);
  let text = answer.text;
  answer.annotations.forEach((a, i) => {
    text = text.split(a.text).join(`[${i + 1}]`);
  });
  return {
    title: query.split('\n')[0] ?? query,
    text,
    sources: answer.annotations.map((a) => a.url_citation),
  };
}

/** A whole run as the product makes it: plan, every subtask, then the synthesis. */
export async function runOffline(openai: AzureOpenAI, prompt: string) {
  const subtasks = await plan(openai, prompt);
  const findings: Finding[] = [];
  for (const subtask of subtasks) {
    if (subtask.kind === 'tool') {
      const result = await runTool(subtask.toolName, subtask.toolArguments, {
        now: new Date('2026-03-01T12:00:00Z'),
        allowNetwork: false,
      });
      findings.push(
        result.isError
          ? { title: subtask.title, text: '', error: `${result.name}: ${result.content}` }
          : { title: subtask.title, text: `${result.name} returned: ${result.content}` },
      );
    } else if (subtask.kind === 'research') {
      findings.push({ ...research(`${subtask.title}\n${subtask.instructions}`), title: subtask.title });
    } else {
      findings.push({ title: subtask.title, text: (await answerPart(openai, prompt, subtask)).text });
    }
  }
  return { subtasks, findings, answer: await synthesize(openai, prompt, findings) };
}
