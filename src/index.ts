import { app } from '@azure/functions';
import * as df from 'durable-functions';
import { createCallModel } from './activities/callModel';
import { createDeliverWebhook } from './activities/deliverWebhook';
import { createCollectResearch, createPollResearch, createStartResearch } from './activities/research';
import { createRunTool } from './activities/runTool';
import { createSaveResult } from './activities/saveResult';
import { createClients } from './clients';
import { loadConfig } from './config';
import { createTokenQuotaEntity } from './entities/tokenQuota';
import { registerAgentRunFunctions } from './functions/agentRuns';
import { registerApprovalPageFunction } from './functions/approvalPage';
import { health } from './functions/health';
import { registerQuotaFunctions } from './functions/quota';
import { registerRunEventsFunction } from './functions/runEvents';
import { registerRunListFunction } from './functions/runList';
import { activityNames, entityNames, functionNames, orchestratorNames } from './names';
import { agentRunOrchestrator } from './orchestrators/agentRun';
import { answerSubtaskOrchestrator } from './orchestrators/answerSubtask';
import { researchSubtaskOrchestrator } from './orchestrators/researchSubtask';
import { toolSubtaskOrchestrator } from './orchestrators/toolSubtask';

// Composition root: configuration is read once, here, and a bad setting stops the app at start with
// one message listing every problem. SDK clients are created once per process and handed to activities.
const config = loadConfig();
const clients = createClients(config);

// Streams HTTP (the event stream needs it): needs @azure/functions 4.3+ and Functions host 4.28+.
app.setup({ enableHttpStream: true });

app.http(functionNames.health, {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: health,
});
registerAgentRunFunctions(config);
registerQuotaFunctions(config);
registerRunListFunction(config);
registerRunEventsFunction(config);
registerApprovalPageFunction(config);

df.app.orchestration(orchestratorNames.agentRun, agentRunOrchestrator);
df.app.orchestration(orchestratorNames.answerSubtask, answerSubtaskOrchestrator);
df.app.orchestration(orchestratorNames.researchSubtask, researchSubtaskOrchestrator);
df.app.orchestration(orchestratorNames.toolSubtask, toolSubtaskOrchestrator);

df.app.entity(
  entityNames.tokenQuota,
  createTokenQuotaEntity({ defaultMonthlyTokens: config.quota.defaultMonthlyTokens }),
);

df.app.activity(activityNames.callModel, { handler: createCallModel({ clients, config }) });
df.app.activity(activityNames.runTool, { handler: createRunTool({ config }) });
df.app.activity(activityNames.startResearch, { handler: createStartResearch({ clients, config }) });
df.app.activity(activityNames.pollResearch, { handler: createPollResearch({ clients, config }) });
df.app.activity(activityNames.collectResearch, { handler: createCollectResearch({ clients, config }) });
df.app.activity(activityNames.saveResult, { handler: createSaveResult({ clients, config }) });
df.app.activity(activityNames.deliverWebhook, { handler: createDeliverWebhook({ config }) });
