#!/bin/sh
# azd postprovision hook: lets browsers sign in to the deployed app (the approval page) through App Service
# Authentication. Easy Auth signs a browser in at /.auth/login/aad and gets the answer at
# /.auth/login/aad/callback; without a client secret it uses the OpenID Connect implicit flow, which needs
# that callback as a web redirect URI of the app registration and ID tokens enabled. The host name is
# known only after provision (SERVICE_API_URI), hence a postprovision hook. Adding what is there already
# changes nothing, so it runs after every provision.
set -eu

: "${AUTH_CLIENT_ID:?AUTH_CLIENT_ID is not set; run this through azd after the preprovision hook}"
: "${SERVICE_API_URI:?SERVICE_API_URI is not set; run this through azd after provisioning}"

if ! command -v az >/dev/null 2>&1; then
  echo "The Azure CLI (az) is not installed: add ${SERVICE_API_URI%/}/.auth/login/aad/callback as a web" >&2
  echo "redirect URI of the app registration $AUTH_CLIENT_ID and enable ID tokens yourself." >&2
  exit 1
fi

callback="${SERVICE_API_URI%/}/.auth/login/aad/callback"
existing=$(az ad app show --id "$AUTH_CLIENT_ID" --query "web.redirectUris" -o tsv)
issuing=$(az ad app show --id "$AUTH_CLIENT_ID" --query "web.implicitGrantSettings.enableIdTokenIssuance" -o tsv)
if printf '%s\n' "$existing" | grep -qxF "$callback" && [ "$issuing" = "true" ]; then
  echo "Browser sign-in is set up ($callback)."
  exit 0
fi

# Graph replaces the whole list: send the existing URIs with the callback added.
uris=$(printf '%s\n%s\n' "$existing" "$callback" | grep -v '^$' | sort -u | sed 's/.*/"&"/' | paste -sd, -)
az rest --method PATCH \
  --uri "https://graph.microsoft.com/v1.0/applications(appId='$AUTH_CLIENT_ID')" \
  --headers "Content-Type=application/json" \
  --body "{\"web\":{\"redirectUris\":[$uris],\"implicitGrantSettings\":{\"enableIdTokenIssuance\":true}}}" \
  >/dev/null
echo "Browser sign-in set up: $callback is a redirect URI of $AUTH_CLIENT_ID, with ID tokens."
