# azd preprovision hook (Windows): the same steps as ensure-entra-app.sh. Makes sure the API has a
# Microsoft Entra app registration and stores its client id as AUTH_CLIENT_ID in the azd environment.
$ErrorActionPreference = 'Stop'

if ($env:AUTH_CLIENT_ID) {
  Write-Host "AUTH_CLIENT_ID is set ($env:AUTH_CLIENT_ID); keeping that app registration."
  exit 0
}
if (-not (Get-Command az -ErrorAction SilentlyContinue)) {
  Write-Error "AUTH_CLIENT_ID is not set and the Azure CLI (az) is not installed. Install it and run 'az login', or register an app yourself and run: azd env set AUTH_CLIENT_ID <client-id>"
}
if (-not $env:AZURE_ENV_NAME) { Write-Error 'AZURE_ENV_NAME is not set; run this through azd.' }

$name = "durable-agent-runs-$($env:AZURE_ENV_NAME)"
$appId = az ad app list --display-name $name --query '[0].appId' -o tsv
if (-not $appId) {
  Write-Host "Registering the Microsoft Entra application '$name' for the API..."
  $appId = az ad app create --display-name $name --sign-in-audience AzureADMyOrg --query appId -o tsv
}

$uri = "https://graph.microsoft.com/v1.0/applications(appId='$appId')"
$scopeId = az ad app show --id $appId --query "api.oauth2PermissionScopes[?value=='user_impersonation'].id | [0]" -o tsv
if (-not $scopeId) {
  $scopeId = [guid]::NewGuid().ToString()
  $body = @{
    identifierUris = @("api://$appId")
    api            = @{
      requestedAccessTokenVersion = 2
      oauth2PermissionScopes      = @(@{
          id                      = $scopeId
          value                   = 'user_impersonation'
          type                    = 'User'
          isEnabled               = $true
          adminConsentDisplayName = 'Use the durable agent runs API'
          adminConsentDescription = 'Start, follow and approve agent runs as the signed-in user.'
          userConsentDisplayName  = 'Use the durable agent runs API'
          userConsentDescription  = 'Start, follow and approve agent runs as you.'
        })
    }
  } | ConvertTo-Json -Depth 6 -Compress
  $file = New-TemporaryFile
  Set-Content -Path $file -Value $body
  az rest --method PATCH --uri $uri --headers 'Content-Type=application/json' --body "@$file" | Out-Null
  Remove-Item $file
}

$azCliAppId = '04b07795-8ddb-461a-bbee-02f9e1bf7b46'
$preAuth = @{ api = @{ preAuthorizedApplications = @(@{ appId = $azCliAppId; delegatedPermissionIds = @($scopeId) }) } } |
  ConvertTo-Json -Depth 6 -Compress
$file = New-TemporaryFile
Set-Content -Path $file -Value $preAuth
az rest --method PATCH --uri $uri --headers 'Content-Type=application/json' --body "@$file" | Out-Null
Remove-Item $file

az ad sp show --id $appId 2>$null | Out-Null
if ($LASTEXITCODE -ne 0) { az ad sp create --id $appId | Out-Null }

azd env set AUTH_CLIENT_ID $appId
Write-Host "AUTH_CLIENT_ID=$appId stored in the azd environment."
