"""The one condition-failure helper of the repositories (adapters/dynamo.py): a lost condition is
False/None, every other DynamoDB error reaches the caller (so throttling answers 503 or goes back to
the queue, never "already done")."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from prakerja.adapters.dynamo import applied, conditional


def _error(code: str, reasons: list[str] | None = None) -> ClientError:
    response: dict = {"Error": {"Code": code, "Message": "synthetic"}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": r} for r in reasons]
    return ClientError(response, "TransactWriteItems" if reasons is not None else "UpdateItem")


def _raise(exc: Exception):
    def write():
        raise exc
    return write


def test_an_applied_write_returns_its_response_and_true():
    assert conditional(lambda: {"Attributes": {"n": 1}}) == {"Attributes": {"n": 1}}
    assert applied(lambda: {}) is True


@pytest.mark.parametrize("exc", [
    _error("ConditionalCheckFailedException"),
    _error("TransactionCanceledException", ["None", "ConditionalCheckFailed"]),
])
def test_a_lost_condition_is_none_and_false(exc):
    assert conditional(_raise(exc)) is None
    assert applied(_raise(exc)) is False


@pytest.mark.parametrize("exc", [
    _error("ProvisionedThroughputExceededException"),
    _error("ThrottlingException"),
    _error("InternalServerError"),
    _error("TransactionCanceledException", ["None", "TransactionConflict"]),
    _error("TransactionCanceledException", ["ThrottlingError", "None"]),
    RuntimeError("not a DynamoDB error"),
])
def test_every_other_error_propagates(exc):
    with pytest.raises(type(exc)):
        applied(_raise(exc))
