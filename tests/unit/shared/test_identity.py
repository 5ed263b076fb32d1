import pytest

from commons.errors import Forbidden, Unauthorized
from commons.identity import caller_from_request_context


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("admin", {"admin"}), ("[admin ops]", {"admin", "ops"}), ("admin,ops", {"admin", "ops"}), (None, set())],
)
def test_groups_claim_is_parsed_in_every_shape_api_gateway_sends(raw, expected):
    claims = {"sub": "user-1", **({"cognito:groups": raw} if raw else {})}
    caller = caller_from_request_context({"authorizer": {"claims": claims}})
    assert caller.subject == "user-1"
    assert caller.groups == expected
    assert caller.is_admin == ("admin" in expected)


def test_non_admin_is_forbidden_and_anonymous_is_unauthorized():
    with pytest.raises(Forbidden):
        caller_from_request_context({"authorizer": {"claims": {"sub": "u"}}}).require_admin()
    with pytest.raises(Unauthorized):
        caller_from_request_context({})
