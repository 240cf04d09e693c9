"""Creates the Python peer's idempotency table on moto (the harness runs this before spawning
the peer): partition key ``id``, the layout Powertools' DynamoDB persistence layer expects by
default. Usage: ``python create_table.py NAME``; the endpoint comes from AWS_ENDPOINT_URL."""

import sys

import boto3

boto3.client("dynamodb").create_table(
    TableName=sys.argv[1],
    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    BillingMode="PAY_PER_REQUEST",
)
