import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { createCallModel } from './activities/callModel';
import { createDeliverWebhook } from './activities/deliverWebhook';
import { createCollectResearch, createPollResearch, createStartResearch } from './activities/research';
import { createRecordSpans } from './activities/recordSpans';
import { createRunTool } from './activities/runTool';
import { createSaveDraft } from './activities/saveDraft';
import { createSaveResult } from './activities/saveResult';
import { atActivityBoundary } from './activities/boundary';
import { createApprovalChannel } from './activities/approvalChannel';
import { createVerifyApproval } from './activities/verifyApproval';
import { createClients } from './clients';
import { loadConfig } from './config';
import { createTokenQuotaEntity } from './entities/tokenQuota';
import { registerAgentRunFunctions } from './functions/agentRuns';
import { registerApprovalPageFunction } from './functions/approvalPage';
import { health } from './functions/health';
import { registerQuotaFunctions } from './functions/quota';
import { registerReconciler } from './functions/reconcile';
import { registerRunEventsFunction } from './functions/runEvents';
import { registerRunUrlFunctions } from './functions/runUrls';
import { createSigner } from './lib/capability';
import { tracedRun, tracedSubtask } from './telemetry/orchestration';
import { setupTelemetry } from './telemetry/setup';
import { withActivitySpan } from './telemetry/spans';
import { registerRunListFunction } from './functions/runList';
import { activityNames, entityNames, functionNames, orchestratorNames } from './names';
import { agentRunOrchestrator } from './orchestrators/agentRun';
import { answerSubtaskOrchestrator } from './orchestrators/answerSubtask';
import { researchSubtaskOrchestrator } from './orchestrators/researchSubtask';
import { toolSubtaskOrchestrator } from './orchestrators/toolSubtask';

// Composition root: configuration is read once, here, and a bad setting stops the app at start with
// one message listing every problem. SDK clients are created once per process and handed to activities.
const config = loadConfig();
// Before any SDK client exists, so that the Azure distro's instrumentation sees them all.
setupTelemetry(config.telemetry);
const clients = createClients(config);
const signer = createSigner(config.runUrlSigningKey);

// Streams HTTP (the event stream needs it): needs @azure/functions 4.3+ and Functions host 4.28+.
app.setup({ enableHttpStream: true });

app.http(functionNames.health, {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: health,
});
registerAgentRunFunctions(config, signer, clients);
registerRunUrlFunctions(config, signer, clients);
registerQuotaFunctions(config);
registerReconciler(config, clients);
registerRunListFunction(config, clients.runIndex);
registerRunEventsFunction(config, clients.blobService);
registerApprovalPageFunction(config, clients.blobService);

// Each orchestration ends with one recordSpans activity for its own span (src/telemetry/orchestration.ts).
df.app.orchestration(orchestratorNames.agentRun, tracedRun(agentRunOrchestrator));
df.app.orchestration(orchestratorNames.answerSubtask, tracedSubtask(answerSubtaskOrchestrator));
df.app.orchestration(orchestratorNames.researchSubtask, tracedSubtask(researchSubtaskOrchestrator));
df.app.orchestration(orchestratorNames.toolSubtask, tracedSubtask(toolSubtaskOrchestrator));

df.app.entity(
  entityNames.tokenQuota,
  createTokenQuotaEntity({ defaultMonthlyTokens: config.quota.defaultMonthlyTokens }),
);

// Every activity answers through the boundary, so a failure stored in history carries its message only,
// and each attempt is one span (activities never replay, so spans are never duplicated).
const spanOptions = { captureContent: config.telemetry.captureContent };
const activity = <I, O>(name: string, handler: (input: I, context: InvocationContext) => O | Promise<O>) =>
  df.app.activity(name, { handler: atActivityBoundary(name, withActivitySpan(name, handler, spanOptions)) });
activity(activityNames.callModel, createCallModel({ clients, config }));
activity(activityNames.runTool, createRunTool({ config }));
activity(activityNames.startResearch, createStartResearch({ clients, config }));
activity(activityNames.pollResearch, createPollResearch({ clients, config }));
activity(activityNames.collectResearch, createCollectResearch({ clients, config }));
activity(activityNames.saveResult, createSaveResult({ clients, config }));
activity(activityNames.saveDraft, createSaveDraft({ clients, config }));
activity(activityNames.verifyApproval, createVerifyApproval(signer));
activity(activityNames.approvalChannel, createApprovalChannel(signer));
activity(activityNames.deliverWebhook, createDeliverWebhook({ config }));
// The spans of the run's tree, from the orchestrations' own records; it is not an activity span itself.
df.app.activity(activityNames.recordSpans, {
  handler: atActivityBoundary(activityNames.recordSpans, createRecordSpans()),
});
