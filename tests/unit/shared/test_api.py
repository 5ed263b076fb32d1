import json
from typing import Annotated

import pytest
from aws_lambda_powertools.event_handler.openapi.params import Query
from botocore.exceptions import ClientError
from pydantic import Field

from commons.api import create_resolver
from commons.errors import Conflict
from commons.models import RequestModel
from tests.events import lambda_context, rest_event


class Line(RequestModel):
    product_id: str
    quantity: int = Field(ge=1, le=100)


class NewThing(RequestModel):
    lines: list[Line] = Field(min_length=1)


app = create_resolver(allow_headers=["Idempotency-Key"])


@app.post("/things")
def create_thing(thing: NewThing) -> tuple[dict[str, object], int]:
    if thing.lines[0].product_id == "taken":
        raise Conflict("That thing exists", productId="taken")
    return {"count": len(thing.lines)}, 201


@app.get("/things")
def list_things(limit: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, int]:
    return {"limit": limit}


@app.get("/boom")
def boom() -> dict[str, str]:
    raise RuntimeError("bug")


@app.get("/busy")
def busy() -> dict[str, str]:
    raise ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}}, "GetItem"
    )


def call(
    method: str, path: str, body: object = None, query: dict[str, str] | None = None
) -> tuple[int, dict]:
    raw = body if isinstance(body, str) or body is None else json.dumps(body)
    event = rest_event(method, path, body=raw, query=query, headers={"Origin": "https://shop.example"})
    response = app.resolve(event, lambda_context())
    return response["statusCode"], response


def body_of(response: dict) -> dict:
    return json.loads(response["body"])


def test_valid_request_reaches_the_route():
    status, response = call("POST", "/things", {"lines": [{"productId": "p1", "quantity": 2}]})
    assert status == 201
    assert body_of(response) == {"count": 1}


def test_domain_error_becomes_problem_json():
    status, response = call("POST", "/things", {"lines": [{"productId": "taken", "quantity": 1}]})
    assert status == 409
    assert response["multiValueHeaders"]["Content-Type"] == ["application/problem+json"]
    problem = body_of(response)
    assert problem["status"] == 409
    assert problem["title"] == "Conflict"
    assert problem["detail"] == "That thing exists"
    assert problem["productId"] == "taken"
    assert problem["instance"] == "/things"


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"lines": [{"productId": "p1", "quantity": 0}]}, "/lines/0/quantity"),
        ({"lines": [{"productId": "p1", "quantity": "2"}]}, "/lines/0/quantity"),
        ({"lines": []}, "/lines"),
        ({"lines": [{"productId": "p1", "quantity": 1}], "extra": 1}, "/extra"),
    ],
)
def test_invalid_body_is_422_pointing_at_the_field(body, pointer):
    status, response = call("POST", "/things", body)
    assert status == 422
    problem = body_of(response)
    assert response["multiValueHeaders"]["Content-Type"] == ["application/problem+json"]
    assert pointer in [error["pointer"] for error in problem["errors"]]
    assert pointer in problem["detail"]


@pytest.mark.parametrize("raw", ["{not json", "", "[1, 2]", "null"])
def test_malformed_json_is_a_client_error(raw):
    status, response = call("POST", "/things", raw)
    assert 400 <= status < 500
    assert body_of(response)["status"] == status


def test_a_body_nested_deeper_than_the_parser_recurses_is_400_not_500():
    status, response = call("POST", "/things", "[" * 100_000 + "]" * 100_000)
    assert status == 400
    assert "nested too deeply" in body_of(response)["detail"]


def test_a_number_longer_than_python_converts_is_400_not_500():
    status, response = call(
        "POST", "/things", '{"lines": [{"productId": "p", "quantity": ' + "9" * 5000 + "}]}"
    )
    assert status == 400
    assert "too many digits" in body_of(response)["detail"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain;charset=UTF-8", '{"lines": [{"productId": "p1", "quantity": 2}]}'),
        ("APPLICATION/JSON", '{"lines": [{"productId": "p1", "quantity": 2}]}'),
        ("application/x-www-form-urlencoded", "lines=1"),
        ("multipart/form-data; boundary=x", "--x--"),
    ],
)
@pytest.mark.filterwarnings("ignore:Received multipart/form-data without base64")
def test_a_body_that_is_not_application_json_is_415(content_type, body):
    event = rest_event("POST", "/things", body=body, headers={"Content-Type": content_type})
    response = app.resolve(event, lambda_context())
    assert response["statusCode"] == 415
    assert "must be application/json" in body_of(response)["detail"]


def test_json_with_parameters_is_json():
    body = '{"lines": [{"productId": "p1", "quantity": 2}]}'
    event = rest_event(
        "POST", "/things", body=body, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert app.resolve(event, lambda_context())["statusCode"] == 201


def test_pointers_escape_slashes_and_tildes_in_names():
    status, response = call("POST", "/things", {"lines": [{"productId": "p1", "quantity": 1}], "a/b~c": 1})
    assert status == 422
    assert [error["pointer"] for error in body_of(response)["errors"]] == ["/a~1b~0c"]


def test_invalid_query_parameter_is_422():
    status, response = call("GET", "/things", query={"limit": "1000"})
    assert status == 422
    assert body_of(response)["errors"][0]["pointer"] == "#query/limit"


def test_unknown_route_is_404_problem():
    status, response = call("GET", "/nothing")
    assert status == 404
    assert body_of(response)["detail"] == "No such route"


def test_a_bug_is_500_without_leaking_details():
    status, response = call("GET", "/boom")
    assert status == 500
    assert "bug" not in response["body"]


def test_dynamodb_throttling_after_the_sdks_retries_is_a_503_to_retry():
    status, response = call("GET", "/busy")
    assert status == 503
    assert body_of(response)["detail"] == "The table is busy (DynamoDB throttled this request); retry shortly"


def test_cors_headers_are_set():
    _, response = call("GET", "/things")
    assert response["multiValueHeaders"]["Access-Control-Allow-Origin"] == ["*"]


def test_extension_members_never_replace_the_standard_ones():
    from commons.api import problem

    body = json.loads(problem(409, "conflict", "/x", {"status": "PAID", "orderId": "o1"}).body)
    assert body["status"] == 409
    assert body["orderId"] == "o1"


def test_prime_builds_every_wire_model_before_the_snapshot():
    """The SnapStart hook leaves no model for the first request to build."""
    import os

    os.environ.setdefault("ORDERS_TABLE_NAME", "orders-unit")
    from snapshot_restore_py import get_before_snapshot

    from commons.api import _subclasses, prime
    from commons.models import ApiModel
    from orders.handlers import api

    assert (prime, (api.app,), {}) in get_before_snapshot()
    prime(api.app)
    assert all(model.__pydantic_complete__ for model in _subclasses(ApiModel))
