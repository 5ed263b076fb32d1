"""A Cognito user pool per service: customers or operators sign in; the `admin` group marks administrators."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.config import StageConfig

ADMIN_GROUP = "admin"


class UserPoolAuth(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
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
            # credentials (docs/deploy.md). No hosted UI, so no OAuth flows or callback URLs.
            auth_flows=cognito.AuthFlow(user_srp=True, admin_user_password=True),
            disable_o_auth=True,
            generate_secret=False,
            id_token_validity=cdk.Duration.hours(1),
            access_token_validity=cdk.Duration.hours(1),
            prevent_user_existence_errors=True,
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
