"""A confidential relying party written with Authlib (Debian python3-authlib), driven by
tests/e2e/authlib.test.mjs: code flow with PKCE, id_token checked against the JWKS, userinfo,
refresh, introspection and revocation, against the real keystep binary.

Environment: KEYSTEP_ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI. Protocol on stdio, one
JSON object per line: prints {"authorize_url"}; reads the callback URL the browser reached;
then prints one {"step", ...} line per step and {"done": true}. Any failure raises: the
traceback goes to stderr and the exit status is not 0.
"""

import json
import os
import sys

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.oidc.core import CodeIDToken

# The test's issuer is plain http on loopback; Authlib refuses that unless told.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"


def say(**fields):
    print(json.dumps(fields), flush=True)


def main():
    issuer = os.environ["KEYSTEP_ISSUER"]
    client_id = os.environ["CLIENT_ID"]
    meta = requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()
    session = OAuth2Session(
        client_id,
        os.environ["CLIENT_SECRET"],
        scope="openid email profile offline_access",
        redirect_uri=os.environ["REDIRECT_URI"],
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
        revocation_endpoint_auth_method="client_secret_basic",
    )
    code_verifier = generate_token(48)
    nonce = generate_token(20)
    url, state = session.create_authorization_url(
        meta["authorization_endpoint"], nonce=nonce, code_verifier=code_verifier)
    say(authorize_url=url)

    callback = sys.stdin.readline().strip()
    token = session.fetch_token(meta["token_endpoint"], authorization_response=callback,
                                state=state, code_verifier=code_verifier)
    jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    claims = JsonWebToken(["RS256", "ES256"]).decode(
        token["id_token"], jwks, claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": issuer}},
        claims_params={"nonce": nonce, "client_id": client_id})
    claims.validate()
    say(step="token", sub=claims["sub"], email=claims.get("email"), scope=token.get("scope"),
        has_refresh_token="refresh_token" in token)

    userinfo = session.get(meta["userinfo_endpoint"], timeout=10)
    userinfo.raise_for_status()
    say(step="userinfo", **userinfo.json())

    first_refresh = token["refresh_token"]
    refreshed = session.refresh_token(meta["token_endpoint"])
    say(step="refresh", rotated=refreshed["refresh_token"] != first_refresh,
        new_access_token=refreshed["access_token"] != token["access_token"])

    access = session.introspect_token(meta["introspection_endpoint"],
                                      token=refreshed["access_token"])
    access.raise_for_status()
    say(step="introspect_access", **access.json())

    revoked = session.revoke_token(meta["revocation_endpoint"],
                                   token=refreshed["refresh_token"],
                                   token_type_hint="refresh_token")
    say(step="revoke", status=revoked.status_code)

    after = session.introspect_token(meta["introspection_endpoint"],
                                     token=refreshed["access_token"])
    after.raise_for_status()
    say(step="introspect_after_revoke", **after.json())

    try:
        session.refresh_token(meta["token_endpoint"], refresh_token=refreshed["refresh_token"])
        say(step="refresh_after_revoke", error=None)
    except OAuthError as e:
        say(step="refresh_after_revoke", error=e.error)
    say(done=True)


if __name__ == "__main__":
    main()
