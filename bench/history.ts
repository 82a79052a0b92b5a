/**
 * `npm run bench:history`: what a typical run leaves in durable state. Runs the product under the
 * devhost with Azurite and the emulators, one run with a calculator answer, a research subtask and an
 * approval (approved through the product), and prints the serialized bytes of the history of every
 * instance of the run (the run and its children, as the management API shows it), and the sizes of the
 * run's custom status and output. Then floods a second waiting run with ignored approval events and
 * prints how many history events they added. Asserts nothing.
 *
 *   npm run bench:history -- [--ignored 2000] [--app <dir of another built copy of the app>]
 */
import { parseArgs } from 'node:util';
import { call, pollUntil, startProduct, type Product } from '../test/support/product';
import { instanceUrl, raiseAround, shownHistory } from '../test/support/history';

interface Status {
  instanceId: string;
  customStatus: unknown;
  output: unknown;
  runtimeStatus: string;
}

const approvalRun = {
  prompt: 'What is 12 * 7 + 5? Use the calculator. Also research the latest news on Azure Durable Functions.',
  research: true,
  approval: { required: true, timeoutMinutes: 60 },
};

async function waiting(product: Product): Promise<string> {
  const started = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, { body: approvalRun });
  if (started.status !== 202) throw new Error(`start: ${started.status} ${JSON.stringify(started.body)}`);
  await pollUntil(
    () => call<{ status: string }>(`${product.baseUrl}/api/agent-runs/${started.body.runId}`),
    (r) => r.body.status === 'awaiting-approval',
    180_000,
  );
  return started.body.runId;
}

async function approve(product: Product, runId: string): Promise<void> {
  const approved = await call(`${product.baseUrl}/api/agent-runs/${runId}/approval`, {
    body: { decision: 'approve', round: 0 },
  });
  if (approved.status !== 200)
    throw new Error(`approve: ${approved.status} ${JSON.stringify(approved.body)}`);
  await pollUntil(
    () => call<{ status: string }>(`${product.baseUrl}/api/agent-runs/${runId}`),
    (r) => r.body.status === 'completed',
    600_000,
  );
}

async function instancesOf(product: Product, runId: string): Promise<string[]> {
  const ids = [runId];
  for (let n = 1; n <= 8; n++) {
    const child = await call(instanceUrl(product.baseUrl, `${runId}-s${n}`));
    if (child.status === 200 || child.status === 202) ids.push(`${runId}-s${n}`);
  }
  return ids;
}

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value ?? null));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { ignored: { type: 'string', default: '2000' }, app: { type: 'string' } },
  });
  const ignored = Number(values.ignored);
  const product = await startProduct({
    env: { QUOTA_DEFAULT_MONTHLY_TOKENS: '100000000' },
    ...(values.app ? { appDir: values.app } : {}),
  });
  try {
    const runId = await waiting(product);
    await approve(product, runId);
    const rows: [string, number, number][] = [];
    for (const id of await instancesOf(product, runId)) {
      const history = await shownHistory(product.baseUrl, id);
      rows.push([id === runId ? 'run' : id.slice(runId.length + 1), history.length, bytes(history)]);
    }
    const status = (await call<Status>(instanceUrl(product.baseUrl, runId))).body;
    console.log(`app: ${values.app ?? 'this project'}`);
    console.log('instance   events   history bytes');
    for (const [name, count, size] of rows) {
      console.log(`${name.padEnd(10)} ${String(count).padStart(6)}   ${String(size).padStart(13)}`);
    }
    const total = rows.reduce((sum, [, , size]) => sum + size, 0);
    const events = rows.reduce((sum, [, count]) => sum + count, 0);
    console.log(`${'all'.padEnd(10)} ${String(events).padStart(6)}   ${String(total).padStart(13)}`);
    console.log(`custom status bytes: ${bytes(status.customStatus)}; output bytes: ${bytes(status.output)}`);

    if (ignored > 0) {
      const quiet = (await shownHistory(product.baseUrl, await waiting(product))).length;
      const flooded = await waiting(product);
      const before = (await shownHistory(product.baseUrl, flooded)).length;
      for (let i = 0; i < ignored; i++) {
        const body = { decision: 'approve', by: 'someone', round: 0, proof: 'A'.repeat(43) };
        const status = await raiseAround(product.baseUrl, flooded, 'approval', body);
        if (status !== 202) throw new Error(`raising event ${i}: ${status}`);
      }
      // The devhost takes one event of a name per episode: wait until all of them are in the history.
      const after = await pollUntil(
        () => shownHistory(product.baseUrl, flooded),
        (h) => h.filter((e) => e.EventType === 'EventRaised').length >= ignored,
        1_800_000,
      );
      console.log(
        `${ignored} ignored approval events: history ${before} -> ${after.length} events ` +
          `(+${after.length - before}; a waiting run without them has ${quiet}); ` +
          `timers created: ${after.filter((e) => e.EventType === 'TimerCreated').length}`,
      );
    }
  } finally {
    await product.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
