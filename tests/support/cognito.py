"""Point the app at the Cognito-like test provider (tests/support/oidc.py).

`use_test_provider(settings, idp)` sets what an operator would set for a real user
pool (region, pool id, client id and secret, domain), plus the issuer/JWKS overrides
only a local provider needs, and what settings/base.py derives from them at start-up
(the backends, the endpoints), since the settings module is already loaded.
"""

from __future__ import annotations

from typing import Any

from tests.support.oidc import OidcProvider
from uploader.access import tokens

TEST_REGION = "us-east-1"
TEST_POOL_ID = "us-east-1_IntakeTest"


def use_test_provider(settings: Any, idp: OidcProvider, *, allow_password: bool = False) -> None:
    settings.INTAKE_COGNITO_REGION = TEST_REGION
    settings.INTAKE_COGNITO_USER_POOL_ID = TEST_POOL_ID
    settings.INTAKE_COGNITO_CLIENT_ID = idp.client_id
    settings.INTAKE_COGNITO_CLIENT_SECRET = idp.client_secret
    settings.INTAKE_COGNITO_DOMAIN = idp.issuer
    settings.INTAKE_OIDC_ISSUER_OVERRIDE = idp.issuer
    settings.INTAKE_OIDC_JWKS_URL_OVERRIDE = idp.jwks_url
    settings.INTAKE_OIDC_ENABLED = True
    settings.INTAKE_ALLOW_PASSWORD_SIGN_IN = allow_password
    settings.INTAKE_MACHINE_CLIENT_IDS = [idp.machine_client_id]
    settings.AUTHENTICATION_BACKENDS = ["dashboard.signin.oidc.CognitoBackend"] + (
        ["dashboard.signin.auth_backends.PasswordBackend"] if allow_password else []
    )
    settings.OIDC_RP_CLIENT_ID = idp.client_id
    settings.OIDC_RP_CLIENT_SECRET = idp.client_secret
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = idp.authorization_endpoint
    settings.OIDC_OP_TOKEN_ENDPOINT = idp.token_endpoint
    settings.OIDC_OP_USER_ENDPOINT = idp.userinfo_endpoint
    settings.OIDC_OP_JWKS_ENDPOINT = idp.jwks_url
    # Keys are cached per JWKS URL for the process; every provider start has new keys.
    tokens._caches.clear()
