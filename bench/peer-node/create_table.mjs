// Creates the Node peer's idempotency table on moto (the harness runs this before spawning the
// peer): partition key `id`, the layout Powertools' DynamoDB persistence layer expects by
// default, the same as bench/peer/create_table.py makes for the Python peer. In JS so the Node
// peer needs nothing from the Python venv. Usage: `node create_table.mjs NAME`; the endpoint
// comes from AWS_ENDPOINT_URL.

import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';

await new DynamoDBClient({}).send(
  new CreateTableCommand({
    TableName: process.argv[2],
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
  }),
);
