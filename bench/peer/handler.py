"""The Python peer of webhooks-api's Stripe intake, for the side-by-side harness (bench/).

Written the way a Python team would do the same job on Lambda: the stripe SDK verifies the
signature, AWS Lambda Powertools makes the processing idempotent on the Stripe event id
(DynamoDB persistence layer, partition key ``id``), boto3 sends the event to SQS, and the answer
is an API Gateway v2 response. Run by AWS's runtime interface client under the harness's
Runtime API emulator: ``python -m awslambdaric handler.handler``.

Environment (set by the harness): TABLE_NAME (the idempotency table), QUEUE_URL, SECRET_ID (a
JSON secret holding STRIPE_WEBHOOK_SECRET, the same one webhooks-api reads) and
AWS_ENDPOINT_URL (the counting proxy in front of moto, honoured by boto3 for every service).
"""

import base64
import json
import os

import boto3
import stripe
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

# Module scope, as Lambda code does it: clients are built once per process (in the cold start)
# and reused by every warm invoke.
persistence = DynamoDBPersistenceLayer(table_name=os.environ["TABLE_NAME"])
# The key is the Stripe event id, the same identity webhooks-api dedupes on; a day matches
# Stripe's retry window closely enough for a benchmark.
config = IdempotencyConfig(event_key_jmespath="id", expires_after_seconds=24 * 3600)
sqs = boto3.client("sqs")
QUEUE_URL = os.environ["QUEUE_URL"]
SECRET_ID = os.environ["SECRET_ID"]


def webhook_secret() -> str:
    # Cached for five minutes, as webhooks-api caches its secrets, so a warm invoke makes no
    # Secrets Manager call (Powertools' default cache is only five seconds).
    values = parameters.get_secret(SECRET_ID, transform="json", max_age=300)
    return values["STRIPE_WEBHOOK_SECRET"]


@idempotent_function(data_keyword_argument="event", persistence_store=persistence, config=config)
def enqueue(event: dict) -> dict:
    sqs.send_message(
        QueueUrl=QUEUE_URL,
        MessageBody=json.dumps({"provider": "stripe", "event_id": event["id"]}),
    )
    return {"received": True}


def respond(status: int, body: dict) -> dict:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def handler(event, context):
    # Lets Powertools mark an in-progress record as expiring with the invocation's deadline.
    config.register_lambda_context(context)
    headers = event.get("headers") or {}
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8")
    try:
        stripe_event = stripe.Webhook.construct_event(
            body, headers.get("stripe-signature"), webhook_secret()
        )
    except (ValueError, stripe.SignatureVerificationError):
        return respond(400, {"error": "invalid Stripe signature"})
    return respond(200, enqueue(event=stripe_event.to_dict()))
