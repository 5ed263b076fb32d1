"""The layer's DynamoDB helpers against a real DynamoDB Local."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBStreamEvent

from bench.capacity import CapacityMeter
from commons.dynamodb import condition_raises, decode_cursor, encode_cursor, serialize
from commons.errors import Conflict
from tests.aws import dynamodb_client
from tests.unit.telemetry.support import create_table


@pytest.fixture
def table(dynamodb_local):
    name = f"helpers-{uuid.uuid4().hex[:8]}"
    create_table(
        dynamodb_client(), name
    )  # pk/sk keys and a NEW_AND_OLD_IMAGES stream, as the services' tables
    yield name
    dynamodb_client().delete_table(TableName=name)


def test_conditional_write_maps_to_domain_error(table):
    item = serialize({"pk": "a", "sk": "v", "status": "PAID"})
    dynamodb_client().put_item(TableName=table, Item=item)
    with pytest.raises(Conflict), condition_raises(Conflict("not pending")):
        dynamodb_client().update_item(
            TableName=table,
            Key=serialize({"pk": "a", "sk": "v"}),
            UpdateExpression="SET #s = :new",
            ConditionExpression="#s = :pending",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=serialize({":new": "CANCELLED", ":pending": "PENDING"}),
        )
    stored = dynamodb_client().get_item(TableName=table, Key=serialize({"pk": "a", "sk": "v"}))["Item"]
    assert stored["status"] == {"S": "PAID"}


def test_cursor_pages_through_a_real_query_without_gaps_or_repeats(table):
    for n in range(23):
        dynamodb_client().put_item(TableName=table, Item=serialize({"pk": "p", "sk": f"{n:03}"}))
    seen, token = [], None
    while True:
        start = decode_cursor(token, {"pk": "S", "sk": "S"}, fixed={"pk": "p"})
        page = dynamodb_client().query(
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


def test_real_stream_records_decode_as_powertools_reads_them(table, dynamodb_local):
    key = {"pk": "o1", "sk": "v"}
    dynamodb_client().put_item(TableName=table, Item=serialize({**key, "status": "PENDING", "total": 5}))
    dynamodb_client().update_item(
        TableName=table,
        Key=serialize(key),
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=serialize({":s": "PAID"}),
    )
    streams = dynamodb_local.streams_client()
    arn = dynamodb_client().describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    event = DynamoDBStreamEvent({"Records": records})
    insert, modify = event.records
    assert [insert.event_name.name, modify.event_name.name] == ["INSERT", "MODIFY"]
    assert modify.dynamodb.old_image == {**key, "status": "PENDING", "total": 5}
    assert modify.dynamodb.new_image == {**key, "status": "PAID", "total": 5}


def test_a_batch_get_is_billed_for_every_key_asked_even_those_with_no_item(table):
    """DynamoDB reads each key of a BatchGetItem as its own GetItem and bills a missing item the
    minimum; DynamoDB Local bills only what it found, so the benchmarks' meter adds the rest."""
    dynamodb_client().put_item(TableName=table, Item=serialize({"pk": "here", "sk": "v"}))
    keys = [serialize({"pk": pk, "sk": "v"}) for pk in ("here", "gone-1", "gone-2")]
    with CapacityMeter(dynamodb_client()) as meter:
        dynamodb_client().batch_get_item(RequestItems={table: {"Keys": keys}})
        local = dynamodb_client().batch_get_item(
            RequestItems={table: {"Keys": keys, "ConsistentRead": True}}, ReturnConsumedCapacity="TOTAL"
        )
    assert local["ConsumedCapacity"][0]["CapacityUnits"] == 1.0, "DynamoDB Local bills the found item only"
    # eventually consistent: 3 keys x 0.5; strongly consistent: 3 keys x 1
    assert meter.read_units["BatchGetItem"] == 1.5 + 3.0


def test_the_meter_books_each_call_with_its_own_parameters_when_threads_share_a_client(table):
    """All calls pass the barrier (just before sending) only once every one of them has been prepared,
    so a meter that kept one call's parameters for all would book them all as the last one."""
    client = dynamodb_client()
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
    client = dynamodb_client()
    with CapacityMeter(client) as meter, pytest.raises(client.exceptions.ResourceNotFoundException):
        client.batch_get_item(RequestItems={"no-such-table": {"Keys": [serialize({"pk": "a", "sk": "v"})]}})
    assert meter.total_read_units == 0
