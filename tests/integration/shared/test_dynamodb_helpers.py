"""The layer's DynamoDB helpers against a real DynamoDB Local."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from commons import dynamodb
from commons.dynamodb import batch_write, condition_raises, decode_cursor, encode_cursor, serialize
from commons.errors import Conflict
from commons.streams import decode_image, event_name
from infra.bench.capacity import CapacityMeter
from tests.unit.shared.test_dynamodb import FlakyBatchClient, put, scan_keys
from tests.unit.shared.test_streams_identity_observability import Order
from tests.unit.telemetry.support import create_table


@pytest.fixture
def table(dynamodb_local):
    name = f"helpers-{uuid.uuid4().hex[:8]}"
    create_table(
        dynamodb.client(), name
    )  # pk/sk keys and a NEW_AND_OLD_IMAGES stream, as the services' tables
    yield name
    dynamodb.client().delete_table(TableName=name)


def put_sk(n: int):
    request = put(n)
    request["PutRequest"]["Item"]["sk"] = {"S": "v"}
    return request


def test_forced_unprocessed_items_are_retried_until_every_item_is_written(table):
    flaky = FlakyBatchClient(dynamodb.client(), failures=4, held_back=7)
    calls = batch_write(table, [put_sk(n) for n in range(40)], dynamodb=flaky, base_delay=0.01)
    # 40 requests = chunks of 25 and 15; the first chunk is held back 4 times, then everything succeeds.
    assert calls == 6
    assert flaky.calls[:5] == [25, 7, 7, 7, 7]
    assert scan_keys(table) == {f"item-{n}" for n in range(40)}


def test_conditional_write_maps_to_domain_error(table):
    item = serialize({"pk": "a", "sk": "v", "status": "PAID"})
    dynamodb.client().put_item(TableName=table, Item=item)
    with pytest.raises(Conflict), condition_raises(Conflict("not pending")):
        dynamodb.client().update_item(
            TableName=table,
            Key=serialize({"pk": "a", "sk": "v"}),
            UpdateExpression="SET #s = :new",
            ConditionExpression="#s = :pending",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=serialize({":new": "CANCELLED", ":pending": "PENDING"}),
        )
    stored = dynamodb.client().get_item(TableName=table, Key=serialize({"pk": "a", "sk": "v"}))["Item"]
    assert stored["status"] == {"S": "PAID"}


def test_cursor_pages_through_a_real_query_without_gaps_or_repeats(table):
    batch_write(table, [{"PutRequest": {"Item": serialize({"pk": "p", "sk": f"{n:03}"})}} for n in range(23)])
    seen, token = [], None
    while True:
        start = decode_cursor(token, {"pk": "S", "sk": "S"}, fixed={"pk": "p"})
        page = dynamodb.client().query(
            TableName=table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues=serialize({":p": "p"}),
            Limit=5,
            **({"ExclusiveStartKey": start} if start else {}),
        )
        seen += [item["sk"]["S"] for item in page["Items"]]
        token = encode_cursor(page.get("LastEvaluatedKey"))
        if token is None:
            break
    assert seen == [f"{n:03}" for n in range(23)]


def test_real_stream_records_decode_into_models(table, dynamodb_local):
    key = {"pk": "o1", "sk": "v"}
    dynamodb.client().put_item(TableName=table, Item=serialize({**key, "status": "PENDING", "total": 5}))
    dynamodb.client().update_item(
        TableName=table,
        Key=serialize(key),
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=serialize({":s": "PAID"}),
    )
    streams = dynamodb_local.streams_client()
    arn = dynamodb.client().describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert [event_name(r) for r in records] == ["INSERT", "MODIFY"]
    modify = records[1]
    assert decode_image(modify, "OldImage", Order) == Order(pk="o1", status="PENDING", total=5)
    assert decode_image(modify, "NewImage", Order) == Order(pk="o1", status="PAID", total=5)


def test_a_batch_get_is_billed_for_every_key_asked_even_those_with_no_item(table):
    """DynamoDB reads each key of a BatchGetItem as its own GetItem and bills a missing item the
    minimum; DynamoDB Local bills only what it found, so the benchmarks' meter adds the rest."""
    dynamodb.client().put_item(TableName=table, Item=serialize({"pk": "here", "sk": "v"}))
    keys = [serialize({"pk": pk, "sk": "v"}) for pk in ("here", "gone-1", "gone-2")]
    with CapacityMeter(dynamodb.client()) as meter:
        dynamodb.client().batch_get_item(RequestItems={table: {"Keys": keys}})
        local = dynamodb.client().batch_get_item(
            RequestItems={table: {"Keys": keys, "ConsistentRead": True}}, ReturnConsumedCapacity="TOTAL"
        )
    assert local["ConsumedCapacity"][0]["CapacityUnits"] == 1.0, "DynamoDB Local bills the found item only"
    # eventually consistent: 3 keys x 0.5; strongly consistent: 3 keys x 1
    assert meter.read_units["BatchGetItem"] == 1.5 + 3.0


def test_the_meter_books_each_call_with_its_own_parameters_when_threads_share_a_client(table):
    """All calls pass the barrier (just before sending) only once every one of them has been prepared,
    so a meter that kept one call's parameters for all would book them all as the last one."""
    client = dynamodb.client()
    kinds = ["R#0000000000000#t", "H#t#0000000000000"] * 4
    prepared = threading.Barrier(len(kinds), timeout=10)

    def wait_for_all(**_):
        prepared.wait()

    client.meta.events.register("before-send.dynamodb", wait_for_all, unique_id="test-barrier")
    try:
        with ThreadPoolExecutor(len(kinds)) as pool, CapacityMeter(client) as meter:
            items = [serialize({"pk": f"d-{n}", "sk": sk}) for n, sk in enumerate(kinds)]
            list(pool.map(lambda item: client.put_item(TableName=table, Item=item), items))
    finally:
        client.meta.events.unregister("before-send.dynamodb", unique_id="test-barrier")
    assert meter.calls == {"PutItem:readings": 4, "PutItem:rollups": 4}


def test_the_meter_bills_nothing_for_a_refused_call(dynamodb_local):
    client = dynamodb.client()
    with CapacityMeter(client) as meter, pytest.raises(client.exceptions.ResourceNotFoundException):
        client.batch_get_item(RequestItems={"no-such-table": {"Keys": [serialize({"pk": "a", "sk": "v"})]}})
    assert meter.total_read_units == 0
