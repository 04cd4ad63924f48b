"""The Powertools idempotency store (the Idempotency table: key attribute ``id``, TTL ``expiration``).

One persistence layer per decorated function, on the shared boto3 client (so the local stack's
endpoint and the tests' moto apply). The layer, and with it the DynamoDB client, is built on the
first idempotent call, not at cold start: creating a boto3 client costs about 0.1 s of CPU, and
only sign-ups with an ``Idempotency-Key`` use this one (``make bench-coldstart``).
"""

from __future__ import annotations

import threading
from typing import Any, cast

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from prakerja.adapters.aws import client


class _BuiltOnFirstUse:
    """Stands in for a :class:`DynamoDBPersistenceLayer`: every attribute is the real layer's,
    which is built (once, thread-safely) the first time Powertools touches the store."""

    def __init__(self, table_name: str) -> None:
        self._table_name = table_name
        self._layer: DynamoDBPersistenceLayer | None = None
        self._lock = threading.Lock()

    def _real(self) -> DynamoDBPersistenceLayer:
        with self._lock:
            if self._layer is None:
                self._layer = DynamoDBPersistenceLayer(table_name=self._table_name, key_attr="id",
                                                       expiry_attr="expiration", boto3_client=client("dynamodb"))
            return self._layer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)


def persistence_layer(table_name: str) -> DynamoDBPersistenceLayer:
    """A DynamoDB persistence layer over ``table_name`` (Powertools' default attribute names),
    built on first use (see the module docstring); no AWS call is made by this function."""
    return cast(DynamoDBPersistenceLayer, _BuiltOnFirstUse(table_name))  # the layer's attributes, forwarded
