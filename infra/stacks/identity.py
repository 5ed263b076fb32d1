"""A Cognito user pool per service: customers or operators sign in; the `admin` group marks administrators.

Each pool has a managed-login domain, where the web pages (docs/web.md) send people to sign in with the OAuth 2.0
authorization code grant and PKCE; their app clients (``web_client``) live in the web stack, which knows the pages'
URLs (docs/deploy.md, "The web pages")."""

from __future__ import annotations

import re
from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.config import PROJECT, StageConfig

ADMIN_GROUP = "admin"
# The newer managed login (branding editor, passkeys); CLASSIC_HOSTED_UI is the older hosted UI.
MANAGED_LOGIN_VERSION = cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN
WEB_SCOPES = (cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE)
TOKEN_VALIDITY = cdk.Duration.hours(1)


def domain_prefix(stage: StageConfig, service: str) -> str:
    """``<project>-<stage>-<service>-<12 hex digits>``: Cognito domain prefixes are global to a region across
    every AWS account, so the last part is the end of the stack's own id (a GUID CloudFormation draws when it
    creates the stack). It stays the same for the stack's life; no account id shows in the sign-in URL."""
    guid = cdk.Fn.select(2, cdk.Fn.split("/", cdk.Aws.STACK_ID))
    readable = re.sub(r"[^a-z0-9-]+", "-", f"{PROJECT}-{stage.name}-{service}".lower())
    return f"{readable}-{cdk.Fn.select(4, cdk.Fn.split('-', guid))}"


class UserPoolAuth(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        service: str,
        self_sign_up: bool,
        why_mfa_optional: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "Users",
            self_sign_up_enabled=self_sign_up,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
            ),
            # MFA is required unless the caller says why its users may go without.
            mfa=cognito.Mfa.OPTIONAL if why_mfa_optional else cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.ESSENTIALS,
            removal_policy=stage.removal_policy,
        )
        self.client = self.user_pool.add_client(
            "AppClient",
            # SRP for apps; ADMIN_USER_PASSWORD_AUTH for operators signing in from a shell with IAM
            # credentials (docs/deploy.md). No managed login, so no OAuth flows or callback URLs: that is the
            # web pages' client (web_client).
            auth_flows=cognito.AuthFlow(user_srp=True, admin_user_password=True),
            disable_o_auth=True,
            generate_secret=False,
            id_token_validity=TOKEN_VALIDITY,
            access_token_validity=TOKEN_VALIDITY,
            prevent_user_existence_errors=True,
        )
        self.domain = self.user_pool.add_domain(
            "Domain",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=domain_prefix(stage, service)),
            managed_login_version=MANAGED_LOGIN_VERSION,
        )
        cognito.CfnUserPoolGroup(
            self,
            "Admins",
            user_pool_id=self.user_pool.user_pool_id,
            group_name=ADMIN_GROUP,
            description="Administrators: may call the administrative routes",
        )
        self.authorizer = apigw.CognitoUserPoolsAuthorizer(
            self, "Authorizer", cognito_user_pools=[self.user_pool]
        )
        NagSuppressions.add_resource_suppressions(
            self.user_pool,
            [
                *(
                    [NagPackSuppression(id="AwsSolutions-COG2", reason=why_mfa_optional)]
                    if why_mfa_optional
                    else []
                ),
                *(
                    NagPackSuppression(
                        id=rule,
                        reason="Threat protection needs the Plus feature plan, priced per active user; "
                        "docs/deploy.md leaves that cost decision to the deployer.",
                    )
                    for rule in ("AwsSolutions-COG3", "AwsSolutions-COG8")
                ),
            ],
        )


def web_client(
    scope: Construct, construct_id: str, *, user_pool: cognito.IUserPool, page_urls: Sequence[str]
) -> cognito.UserPoolClient:
    """The app client a web page signs in with through the pool's managed login: the authorization code grant
    only (no implicit grant), a public client (no secret: the page proves itself with PKCE), returning to the
    page's own URL(s) after sign-in and sign-out. Tokens last an hour; the page keeps only the ID token, in
    sessionStorage (docs/web.md)."""
    client = cognito.UserPoolClient(
        scope,
        construct_id,
        user_pool=user_pool,
        generate_secret=False,
        # What managed login signs people in with: SRP (the password never leaves the browser) and refresh.
        auth_flows=cognito.AuthFlow(user_srp=True),
        o_auth=cognito.OAuthSettings(
            flows=cognito.OAuthFlows(authorization_code_grant=True, implicit_code_grant=False),
            scopes=list(WEB_SCOPES),
            callback_urls=list(page_urls),
            logout_urls=list(page_urls),
        ),
        supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
        id_token_validity=TOKEN_VALIDITY,
        access_token_validity=TOKEN_VALIDITY,
        # The pages do not refresh (they sign in again); the shortest Cognito allows.
        refresh_token_validity=TOKEN_VALIDITY,
        prevent_user_existence_errors=True,
    )
    if MANAGED_LOGIN_VERSION == cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN:
        # The newer managed login serves an app client's pages only once the client has a style: Cognito's own.
        cognito.CfnManagedLoginBranding(
            scope,
            f"{construct_id}Branding",
            user_pool_id=user_pool.user_pool_id,
            client_id=client.user_pool_client_id,
            use_cognito_provided_values=True,
        )
    return client
