// Azure AI Foundry: one AIServices account (it serves the Azure OpenAI endpoint too) with a project for
// the Agent Service, the fast and strong model deployments, the Grounding with Bing Search resource, and
// the project connection that lets research sub-agents use it. Keys are off on the account: the app
// calls it with its managed identity (roles in rbac.bicep).

@description('Name of the AIServices account; also its custom subdomain, so globally unique.')
param accountName string

@description('Name of the Foundry project the Agent Service runs in.')
param projectName string

@description('Name of the Grounding with Bing Search resource.')
param bingName string

@description('Region of the account. Model availability differs by region; see docs/deployment.md.')
param location string

param tags object = {}

@description('Fast model (planning, subtasks): deployment name, model, version, SKU and capacity.')
param fast modelDeployment

@description('Strong model (synthesis): deployment name, model, version, SKU and capacity.')
param strong modelDeployment

@export()
@description('One model deployment. capacity is in units of 1,000 tokens per minute for Standard SKUs.')
type modelDeployment = {
  @description('Deployment name the app calls (AZURE_OPENAI_FAST_DEPLOYMENT / _STRONG_DEPLOYMENT).')
  name: string
  @description('Model name, such as gpt-5.4-mini.')
  model: string
  @description('Model version, such as 2026-03-17.')
  version: string
  @description('Deployment SKU, such as GlobalStandard, DataZoneStandard or Standard.')
  sku: string
  @description('Capacity in thousands of tokens per minute (TPM); requests per minute follow from it.')
  @minValue(1)
  capacity: int
}

resource account 'Microsoft.CognitiveServices/accounts@2025-06-01' = {
  name: accountName
  location: location
  tags: tags
  kind: 'AIServices'
  sku: {
    name: 'S0'
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    allowProjectManagement: true
    customSubDomainName: accountName
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
    }
  }
}

resource project 'Microsoft.CognitiveServices/accounts/projects@2025-06-01' = {
  parent: account
  name: projectName
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    displayName: projectName
    description: 'Durable agent runs: research sub-agents with Grounding with Bing Search.'
  }
}

resource fastDeployment 'Microsoft.CognitiveServices/accounts/deployments@2025-06-01' = {
  parent: account
  name: fast.name
  sku: {
    name: fast.sku
    capacity: fast.capacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: fast.model
      version: fast.version
    }
    // Pinned to its version until that version retires, then moved to the replacement Microsoft names,
    // so a deployment keeps answering past a retirement date (NoAutoUpgrade would stop it).
    versionUpgradeOption: 'OnceCurrentVersionExpired'
  }
}

// Deployments on one account are created one at a time: parallel creation fails with a conflict.
resource strongDeployment 'Microsoft.CognitiveServices/accounts/deployments@2025-06-01' = {
  parent: account
  name: strong.name
  sku: {
    name: strong.sku
    capacity: strong.capacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: strong.model
      version: strong.version
    }
    versionUpgradeOption: 'OnceCurrentVersionExpired'
  }
  dependsOn: [
    fastDeployment
  ]
}

// Grounding with Bing Search is a global resource; its type is not in Bicep's type index (warning BCP081).
#disable-next-line BCP081
resource bing 'Microsoft.Bing/accounts@2020-06-10' = {
  name: bingName
  location: 'global'
  tags: tags
  kind: 'Bing.Grounding'
  sku: {
    name: 'G1'
  }
  properties: {
    statisticsEnabled: false
  }
}

// The Agent Service reaches Bing through this project connection; the app passes its resource id as
// BING_CONNECTION_ID. The Bing resource only offers keys, so the key lives in the connection (never in
// an app setting).
resource bingConnection 'Microsoft.CognitiveServices/accounts/projects/connections@2025-06-01' = {
  parent: project
  name: 'bing-grounding'
  properties: {
    category: 'GroundingWithBingSearch'
    target: 'https://api.bing.microsoft.com/'
    authType: 'ApiKey'
    isSharedToAll: true
    credentials: {
      key: bing.listKeys('2020-06-10').key1
    }
    metadata: {
      ApiType: 'Azure'
      type: 'bing_grounding'
      ResourceId: bing.id
    }
  }
}

output accountId string = account.id
output accountName string = account.name
output projectId string = project.id
output projectName string = project.name
output openAiEndpoint string = 'https://${accountName}.openai.azure.com/'
output projectEndpoint string = 'https://${accountName}.services.ai.azure.com/api/projects/${project.name}'
output fastDeploymentName string = fastDeployment.name
output strongDeploymentName string = strongDeployment.name
output bingId string = bing.id
output bingConnectionId string = bingConnection.id
