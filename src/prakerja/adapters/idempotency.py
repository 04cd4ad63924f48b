"""The Powertools idempotency store (the Idempotency table: key attribute ``id``, TTL ``expiration``).

One persistence layer per decorated function, built at cold start on the shared boto3 client
(so the local stack's endpoint and the tests' moto apply).
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from prakerja.adapters.aws import client


def persistence_layer(table_name: str) -> DynamoDBPersistenceLayer:
    """A DynamoDB persistence layer over ``table_name`` (Powertools' default attribute names)."""
    return DynamoDBPersistenceLayer(table_name=table_name, key_attr="id", expiry_attr="expiration",
                                    boto3_client=client("dynamodb"))
