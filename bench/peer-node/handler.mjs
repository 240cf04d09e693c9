// The Node.js peer of webhooks-api's Stripe intake, for the side-by-side harness (bench/).
//
// Written the way the Express team of seed 004 would do the same job on Lambda, and line for
// line the job of the Python peer (bench/peer/handler.py): stripe-node verifies the signature
// (`webhooks.constructEvent`), Powertools for AWS Lambda (TypeScript) makes the processing
// idempotent on the Stripe event id (DynamoDB persistence layer, partition key `id`), AWS SDK v3
// sends the event to SQS, and the answer is an API Gateway v2 response. Run by AWS's runtime
// interface client under the harness's Runtime API emulator:
// `node node_modules/aws-lambda-ric/bin/index.mjs handler.handler`, from this directory.
//
// Environment (set by the harness): TABLE_NAME (the idempotency table), QUEUE_URL, SECRET_ID (a
// JSON secret holding STRIPE_WEBHOOK_SECRET, the same one webhooks-api reads) and
// AWS_ENDPOINT_URL (the counting proxy in front of moto; AWS SDK v3 honours it for every client,
// Powertools' own DynamoDB and Secrets Manager clients included; see the SQS client for the one
// exception).

import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import Stripe from 'stripe';

// Module scope, as Lambda code does it: clients are built once per process (in the cold start)
// and reused by every warm invoke.
const persistenceStore = new DynamoDBPersistenceLayer({ tableName: process.env.TABLE_NAME });
// The key is the Stripe event id, the same identity webhooks-api dedupes on; a day matches
// Stripe's retry window closely enough for a benchmark (and is the Python peer's expiry).
const config = new IdempotencyConfig({ eventKeyJmesPath: 'id', expiresAfterSeconds: 24 * 3600 });
const secrets = new SecretsProvider();
// The SDK sends an SQS call to the QueueUrl's host when it differs from the resolved endpoint.
// On Lambda both are sqs.<region>.amazonaws.com, so this changes nothing there; under the harness
// the queue URL names moto itself, and without it SendMessage would go around the counting proxy
// (and not be counted).
const sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
const QUEUE_URL = process.env.QUEUE_URL;
const SECRET_ID = process.env.SECRET_ID;

async function webhookSecret() {
  // Cached for five minutes, as webhooks-api caches its secrets, so a warm invoke makes no
  // Secrets Manager call (Powertools' default cache is only five seconds).
  const values = await secrets.get(SECRET_ID, { transform: 'json', maxAge: 300 });
  return values.STRIPE_WEBHOOK_SECRET;
}

const enqueue = makeIdempotent(
  async (event) => {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: QUEUE_URL,
        MessageBody: JSON.stringify({ provider: 'stripe', event_id: event.id }),
      }),
    );
    return { received: true };
  },
  { persistenceStore, config },
);

function respond(statusCode, body) {
  return {
    statusCode,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}

export const handler = async (event, context) => {
  // Lets Powertools mark an in-progress record as expiring with the invocation's deadline.
  config.registerLambdaContext(context);
  const headers = event.headers ?? {};
  // The signature is over the raw bytes: a base64 body is decoded, never re-serialised.
  const body = event.isBase64Encoded
    ? Buffer.from(event.body ?? '', 'base64')
    : (event.body ?? '');
  const secret = await webhookSecret();
  let stripeEvent;
  try {
    // The static webhooks helper: the intake makes no Stripe API call, so no client with an API
    // key is built (the Python peer calls stripe.Webhook.construct_event the same way).
    stripeEvent = Stripe.webhooks.constructEvent(body, headers['stripe-signature'], secret);
  } catch (err) {
    // A bad or missing signature, or a signed body that is not JSON: the Python peer's
    // (ValueError, SignatureVerificationError). Anything else is the runtime's error.
    if (err instanceof Stripe.errors.StripeSignatureVerificationError || err instanceof SyntaxError) {
      return respond(400, { error: 'invalid Stripe signature' });
    }
    throw err;
  }
  return respond(200, await enqueue(stripeEvent));
};
