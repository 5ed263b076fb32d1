import pytest
from pydantic import BaseModel, ValidationError

from commons.dynamodb import serialize
from commons.errors import Forbidden, Unauthorized
from commons.identity import caller_from_request_context
from commons.observability import instrument
from commons.streams import decode_image, event_name, image, sequence_number
from tests.events import lambda_context, rest_event, stream_record


class Order(BaseModel):
    pk: str
    status: str
    total: int


def test_stream_record_images_decode_into_models():
    record = stream_record(
        "MODIFY",
        keys=serialize({"pk": "o1"}),
        new_image=serialize({"pk": "o1", "status": "PAID", "total": 10}),
        old_image=serialize({"pk": "o1", "status": "PENDING", "total": 10}),
        sequence_number="42",
    )
    assert event_name(record) == "MODIFY"
    assert decode_image(record, "NewImage", Order) == Order(pk="o1", status="PAID", total=10)
    assert decode_image(record, "OldImage", Order) == Order(pk="o1", status="PENDING", total=10)
    assert sequence_number(record) == "42"


def test_missing_image_is_none_and_a_bad_image_is_a_validation_error():
    insert = stream_record("INSERT", keys=serialize({"pk": "o1"}), new_image=serialize({"pk": "o1"}))
    assert image(insert, "OldImage") is None
    assert decode_image(insert, "OldImage", Order) is None
    with pytest.raises(ValidationError):
        decode_image(insert, "NewImage", Order)


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


def test_instrumented_api_handler_logs_with_api_gateway_request_id():
    from commons.observability import logger

    seen: dict[str, object] = {}

    def handler(event, context):
        seen.update(logger.get_current_keys())
        return {"statusCode": 200, "body": "{}"}

    wrapped = instrument(handler, api=True)
    assert wrapped(rest_event("GET", "/x", request_id="req-123"), lambda_context())["statusCode"] == 200
    assert seen["correlation_id"] == "req-123"
    assert seen["function_name"] == "test-function"
