// The one user-assigned managed identity the Function App uses for every Azure service: storage (host,
// durable state, results, deployment package), Azure OpenAI, the Agent Service, Application Insights and,
// when chosen, the Durable Task Scheduler. Its roles are all granted in rbac.bicep.

@description('Name of the user-assigned managed identity.')
param name string

param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
