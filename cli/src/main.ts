#!/usr/bin/env node
/**
 * The command-line client: `npm run agent -- "prompt"` starts a run and follows it to its answer.
 * Subcommands list, show, follow, approve, reject and cancel runs. See the README, "Command-line client".
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ApiClient } from './api';
import { CliError, exitCodes } from './exitCodes';
import { decide, emit, followRun, readRun, type Output } from './follow';
import { formatList, formatRun, type RunListItem } from './render';

export const defaultBaseUrl = 'http://127.0.0.1:7071';

interface GlobalOptions {
  baseUrl: string;
  scope?: string;
  functionKey?: string;
  json?: boolean;
}

interface RunOptions {
  approval?: boolean;
  approver?: string[];
  approvalTimeout?: number;
  approve?: boolean;
  wait: boolean;
  model?: 'auto' | 'fast' | 'strong';
  research?: boolean;
  maxTokens?: number;
  tool?: string[];
  webhook?: string;
}

function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'durable-agent-runs') return pkg.version ?? '0.0.0';
    }
    if (path.dirname(dir) === dir) return '0.0.0';
  }
}

function positiveInteger(name: string, min = 1, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`${name} must be a whole number.`);
    const n = Number(value);
    if (n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `${name} must be at least ${min}.`
          : `${name} must be between ${min} and ${max}.`,
      );
    }
    return n;
  };
}

function positiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0)
      throw new InvalidArgumentError(`${name} must be a number greater than 0.`);
    return n;
  };
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function baseUrlOf(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(
      `--base-url must be an http(s) URL such as ${defaultBaseUrl}, got "${value}".`,
      exitCodes.usage,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError(
      `--base-url must be an http(s) URL such as ${defaultBaseUrl}, got "${value}".`,
      exitCodes.usage,
    );
  }
  return url;
}

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
}

/** Parses argv (without node and the script), runs the command, and resolves with the exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  let exitCode: number = exitCodes.ok;
  let json = false;

  const program = new Command('agent')
    .description('Start durable agent runs and follow them to their answer.')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError('(add --help for usage)')
    .addOption(
      new Option('--base-url <url>', 'the app to talk to').env('AGENT_RUNS_BASE_URL').default(defaultBaseUrl),
    )
    .addOption(
      new Option(
        '--scope <scope>',
        'Entra ID scope to sign in for off loopback (api://<client id>/user_impersonation)',
      ).env('AGENT_RUNS_SCOPE'),
    )
    .addOption(
      new Option('--function-key <key>', 'function key for a deployed app (x-functions-key)').env(
        'AGENT_RUNS_FUNCTION_KEY',
      ),
    )
    .option('--json', 'machine-readable output: one JSON object per line, the last one the result');
  program.addHelpText(
    'after',
    [
      '',
      'Examples:',
      '  npm run agent -- "What is 12 * 7 + 5?"',
      '  npm run agent -- --approval --approve --json "What is 2 + 2?"',
      '  npm run agent -- list --status awaiting-approval',
      '',
      'Exit codes: 0 completed or done, 1 API or sign-in error, 2 bad usage, 3 failed, 4 rejected,',
      '  5 expired, 6 cancelled, 7 quota too low, 8 budget spent, 10 waits for approval, 130 Ctrl-C.',
      'Off loopback the client signs in with DefaultAzureCredential (az login) for --scope.',
    ].join('\n'),
  );
  // Options given after a subcommand name still belong to the program: `agent run --json "..."`.

  const context = (command: Command) => {
    const globals = command.optsWithGlobals<GlobalOptions>();
    json = globals.json === true;
    const client = new ApiClient({
      baseUrl: baseUrlOf(globals.baseUrl),
      ...(globals.scope ? { scope: globals.scope } : {}),
      ...(globals.functionKey ? { functionKey: globals.functionKey } : {}),
    });
    const out: Output = {
      json,
      interactive: !json && io.stdin.isTTY === true && io.stderr.isTTY === true,
      stdout: io.stdout,
      stderr: io.stderr,
      stdin: io.stdin,
    };
    return { client, out };
  };

  const print = (out: Output, body: unknown, text: string) => {
    if (out.json) io.stdout.write(`${JSON.stringify(body)}\n`);
    else io.stdout.write(`${text}\n`);
  };

  program
    .command('run', { isDefault: true })
    .description('start a run and follow it to its answer (the default command)')
    .argument('<prompt...>', 'what to ask; "-" reads it from stdin')
    .option('--approval', 'have a person approve the answer before it is final')
    .option('--approver <name>', 'who may approve besides you (user id or sign-in name; repeatable)', collect)
    .option(
      '--approval-timeout <minutes>',
      'how long approvers have to decide',
      positiveNumber('--approval-timeout'),
    )
    .option('--approve', 'approve each draft automatically when the run asks')
    .option('--no-wait', 'start the run, print its id and links, and exit')
    .addOption(new Option('--model <model>', 'which model answers').choices(['auto', 'fast', 'strong']))
    .option('--research', 'include web research subtasks')
    .option('--no-research', 'no research subtasks')
    .option('--max-tokens <n>', 'token budget of the run', positiveInteger('--max-tokens', 256))
    .option('--tool <name>', 'a tool the run may use: calculator, current_time (repeatable)', collect)
    .option('--webhook <url>', 'where the app POSTs signed notifications')
    .action(async (words: string[], options: RunOptions, command: Command) => {
      const { client, out } = context(command);
      let prompt = words.join(' ');
      if (prompt === '-') prompt = await readStdin(io.stdin);
      if (prompt.trim() === '') throw new CliError('The prompt is empty.', exitCodes.usage);
      const wantsApproval =
        options.approval === true || options.approver !== undefined || options.approvalTimeout !== undefined;
      const body = {
        prompt,
        ...(wantsApproval
          ? {
              approval: {
                required: true,
                ...(options.approver ? { approvers: options.approver } : {}),
                ...(options.approvalTimeout ? { timeoutMinutes: options.approvalTimeout } : {}),
              },
            }
          : {}),
        ...(options.model ? { model: options.model } : {}),
        ...(options.research !== undefined ? { research: options.research } : {}),
        ...(options.maxTokens ? { maxTokens: options.maxTokens } : {}),
        ...(options.tool ? { tools: options.tool } : {}),
        ...(options.webhook ? { webhook: { url: options.webhook } } : {}),
      };
      const started = await client.json<{ runId: string; links: { run: string; approval: string } }>(
        'POST',
        '/api/agent-runs',
        'Starting the run',
        body,
      );
      const runId = started.body.runId;
      if (out.json) emit(out, { type: 'started', ...(started.body as object) });
      else if (!options.wait) {
        io.stdout.write(
          `${runId}\nRun:      ${started.body.links.run}\nApproval: ${started.body.links.approval}\n`,
        );
      } else io.stderr.write(`Started run ${runId}\n`);
      if (!options.wait) return;
      exitCode = await followRun(client, runId, out, { approve: options.approve === true });
    });

  program
    .command('follow')
    .description('follow a run that was started earlier, to its answer')
    .argument('<id>', 'the run id')
    .option('--approve', 'approve each draft automatically when the run asks')
    .action(async (id: string, options: { approve?: boolean }, command: Command) => {
      const { client, out } = context(command);
      exitCode = await followRun(client, id, out, { approve: options.approve === true });
    });

  program
    .command('show')
    .description('print a run: its status, or its answer once it has one')
    .argument('<id>', 'the run id')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { client, out } = context(command);
      const run = await readRun(client, id);
      print(out, run, formatRun(run));
    });

  program
    .command('list')
    .description('your runs, newest first')
    .option(
      '--status <statuses>',
      'only these statuses, comma-separated (running, awaiting-approval, completed, ...)',
    )
    .option('--limit <n>', 'runs per page (1-100)', positiveInteger('--limit', 1, 100))
    .option('--next <token>', 'the next page: the continuation token the previous page printed')
    .option('--owner <userId>', "another user's runs (admins only)")
    .action(
      async (
        options: { status?: string; limit?: number; next?: string; owner?: string },
        command: Command,
      ) => {
        const { client, out } = context(command);
        const query = new URLSearchParams();
        if (options.status) query.set('status', options.status);
        if (options.limit) query.set('limit', String(options.limit));
        if (options.next) query.set('continuationToken', options.next);
        if (options.owner) query.set('owner', options.owner);
        const suffix = query.size > 0 ? `?${query.toString()}` : '';
        const page = await client.json<{ items: RunListItem[]; continuationToken?: string | null }>(
          'GET',
          `/api/agent-runs${suffix}`,
          'Listing runs',
        );
        print(out, page.body, formatList(page.body.items, page.body.continuationToken));
      },
    );

  for (const decision of ['approve', 'reject'] as const) {
    program
      .command(decision)
      .description(
        decision === 'approve'
          ? 'approve the draft a run offers'
          : 'reject the draft a run offers: with --comment the run revises it, without it ends as rejected',
      )
      .argument('<id>', 'the run id')
      .requiredOption(
        '--round <n>',
        'the round of the draft you decide, as show prints it; a decision never applies to another draft',
        positiveInteger('--round', 0),
      )
      .option('--draft-id <id>', 'the id of the draft you decide, as show prints it (optional)')
      .option('--comment <text>', decision === 'approve' ? 'a note for the record' : 'what should change')
      .action(
        async (
          id: string,
          options: { round: number; draftId?: string; comment?: string },
          command: Command,
        ) => {
          const { client, out } = context(command);
          const sent = await decide(client, id, {
            decision,
            round: options.round,
            ...(options.draftId ? { draftId: options.draftId } : {}),
            ...(options.comment ? { comment: options.comment } : {}),
          });
          if (sent.state === 'not-taken') throw new CliError(sent.reason, exitCodes.error, sent.problem);
          const what =
            decision === 'approve' ? 'Approved' : options.comment ? 'Asked for a revision of' : 'Rejected';
          print(
            out,
            sent.body,
            sent.state === 'taken'
              ? `${what} round ${options.round} of run ${id}.`
              : `Sent for round ${options.round} of run ${id}; the run has not taken it yet (npm run agent -- show ${id}).`,
          );
        },
      );
  }

  program
    .command('cancel')
    .description('cancel a run: its subtasks stop and unspent tokens go back to your quota')
    .argument('<id>', 'the run id')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { client, out } = context(command);
      const answer = await client.json<unknown>(
        'POST',
        `/api/agent-runs/${encodeURIComponent(id)}/cancel`,
        `Cancelling run ${id}`,
      );
      print(out, answer.body ?? { runId: id, cancelled: true }, `Cancelled run ${id}.`);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and the version are answers; every other parse error is a usage error.
      if (['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code))
        return exitCodes.ok;
      return exitCodes.usage;
    }
    if (error instanceof CliError) {
      io.stderr.write(`agent: ${error.message}\n`);
      if (json) {
        io.stdout.write(
          `${JSON.stringify({ type: 'error', exitCode: error.exitCode, message: error.message, ...(error.problem === undefined ? {} : { problem: error.problem }) })}\n`,
        );
      }
      return error.exitCode;
    }
    io.stderr.write(`agent: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return exitCodes.error;
  }
}

async function readStdin(stdin: NodeJS.ReadStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

if (require.main === module) {
  main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`agent: ${String(error)}\n`);
      process.exitCode = exitCodes.error;
    },
  );
}
