#!/bin/sh
# azd preprovision hook: makes sure the API has a Microsoft Entra app registration and that its client id
# is in the azd environment as AUTH_CLIENT_ID (bicep/main.parameters.json passes it to authsettingsV2).
# Runs on every `azd provision`/`azd up`; does nothing once AUTH_CLIENT_ID is set. Needs the Azure CLI,
# signed in to the same tenant as azd (`az login`), and permission to register applications.
set -eu

if [ -n "${AUTH_CLIENT_ID:-}" ]; then
  echo "AUTH_CLIENT_ID is set ($AUTH_CLIENT_ID); keeping that app registration."
  exit 0
fi

if ! command -v az >/dev/null 2>&1; then
  echo "AUTH_CLIENT_ID is not set and the Azure CLI (az) is not installed." >&2
  echo "Install it and run 'az login', or register an app yourself and run: azd env set AUTH_CLIENT_ID <client-id>" >&2
  exit 1
fi

name="durable-agent-runs-${AZURE_ENV_NAME:?AZURE_ENV_NAME is not set; run this through azd}"
app_id=$(az ad app list --display-name "$name" --query "[0].appId" -o tsv)
if [ -z "$app_id" ]; then
  echo "Registering the Microsoft Entra application '$name' for the API..."
  app_id=$(az ad app create --display-name "$name" --sign-in-audience AzureADMyOrg --query appId -o tsv)
fi

# v2 access tokens (issuer .../v2.0, audience = client id), an api://<client id> identifier, and one
# delegated scope so people can get tokens for the API (docs/deployment.md shows how).
scope_id=$(az ad app show --id "$app_id" --query "api.oauth2PermissionScopes[?value=='user_impersonation'].id | [0]" -o tsv)
if [ -z "$scope_id" ]; then
  scope_id=$(cat /proc/sys/kernel/random/uuid 2>/dev/null || uuidgen | tr 'A-Z' 'a-z')
  az rest --method PATCH \
    --uri "https://graph.microsoft.com/v1.0/applications(appId='$app_id')" \
    --headers "Content-Type=application/json" \
    --body "{\"identifierUris\":[\"api://$app_id\"],\"api\":{\"requestedAccessTokenVersion\":2,\"oauth2PermissionScopes\":[{\"id\":\"$scope_id\",\"value\":\"user_impersonation\",\"type\":\"User\",\"isEnabled\":true,\"adminConsentDisplayName\":\"Use the durable agent runs API\",\"adminConsentDescription\":\"Start, follow and approve agent runs as the signed-in user.\",\"userConsentDisplayName\":\"Use the durable agent runs API\",\"userConsentDescription\":\"Start, follow and approve agent runs as you.\"}]}}" \
    >/dev/null
fi

# Let the Azure CLI ask for tokens for this API without a consent prompt (az account get-access-token).
az_cli_app_id="04b07795-8ddb-461a-bbee-02f9e1bf7b46"
az rest --method PATCH \
  --uri "https://graph.microsoft.com/v1.0/applications(appId='$app_id')" \
  --headers "Content-Type=application/json" \
  --body "{\"api\":{\"preAuthorizedApplications\":[{\"appId\":\"$az_cli_app_id\",\"delegatedPermissionIds\":[\"$scope_id\"]}]}}" \
  >/dev/null

# A service principal makes the application usable in this tenant.
az ad sp show --id "$app_id" >/dev/null 2>&1 || az ad sp create --id "$app_id" >/dev/null

azd env set AUTH_CLIENT_ID "$app_id"
echo "AUTH_CLIENT_ID=$app_id stored in the azd environment."
