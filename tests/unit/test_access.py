"""The I/O-free parts of the access review: IAM policy statements (wildcards, NotAction,
NotPrincipal) and Vault policy rules (HCL with nested blocks, JSON, path priority). The
backends' own tests check them against moto and OpenBao."""

from __future__ import annotations

import json

from helium_secrets.access import AccessReview, Grant
from helium_secrets.backends.awssecretsmanager.access import review as aws_review
from helium_secrets.backends.hashivault.policies import parse_rules
from helium_secrets.backends.hashivault.policies import review as vault_review


def test_aws_statements_that_concern_reading() -> None:
    policy = json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:Get*"},
        {"Sid": "All", "Effect": "Allow", "Principal": {"AWS": "arn:a"}, "Action": "*"},
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
         "NotAction": "secretsmanager:GetSecretValue"},
        {"Effect": "Allow", "Principal": {"AWS": "arn:b"}, "NotAction": "secretsmanager:Put*"},
        {"Effect": "Deny", "NotPrincipal": {"AWS": ["arn:a"]}, "Action": "secretsmanager:*"},
        {"Effect": "Allow", "Principal": {"AWS": "arn:c"}, "Action": ["kms:Decrypt"]},
    ]})
    grants = aws_review("app/db", policy).grants
    assert [(g.principal, g.effect, g.source) for g in grants] == [
        ("*", "allow", "resource policy, statement #1"),
        ("arn:a", "allow", "resource policy, statement All"),
        ("arn:b", "allow", "resource policy, statement #4"),
        ("everyone except arn:a", "deny", "resource policy, statement #5")]
    assert aws_review("app/db", None).grants == ()


def test_vault_rules_in_hcl_and_json() -> None:
    hcl = '''
    # read the app's secrets
    path "secret/data/app/*" {
      capabilities = ["read", "list"]
      allowed_parameters = { "version" = [] }
    }
    path "secret/data/app/db" { capabilities = ["deny"] }  // but not this one
    '''
    assert parse_rules(hcl) == {"secret/data/app/*": ("read", "list"),
                                "secret/data/app/db": ("deny",)}
    assert parse_rules('{"path": {"secret/+/x": {"capabilities": ["read"]}}}') == {
        "secret/+/x": ("read",)}


def test_vault_the_most_specific_rule_of_a_policy_decides() -> None:
    policies = {
        "star-then-exact": 'path "s/data/a/*" { capabilities = ["read"] }\n'
                           'path "s/data/a/db" { capabilities = ["list"] }',
        "plus-beats-star": 'path "s/data/*" { capabilities = ["list"] }\n'
                           'path "s/data/+/db" { capabilities = ["read"] }',
        "prefix": 'path "s/data/a/d*" { capabilities = ["read"] }',
        "other": 'path "s/data/b/*" { capabilities = ["read"] }',
        "root": "",
    }
    review = vault_review("a/db", "s/data/a/db", policies)
    assert isinstance(review, AccessReview) and review.read_from == "sys/policy"
    assert review.readers == ("policy:plus-beats-star", "policy:prefix", "policy:root")


def test_readers_leave_out_denied_principals() -> None:
    review = AccessReview("x", (Grant("a", ("read",)), Grant("b", ("read",)),
                                Grant("b", ("deny",), effect="deny")), "test", True)
    assert review.readers == ("a",)
