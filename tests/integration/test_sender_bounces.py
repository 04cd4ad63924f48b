"""Hard bounces and complaints from SES (through SNS and the BounceQueue) make the applicant's email
step UNDELIVERABLE in ``GET /v1/me``; anything else SES reports changes nothing.

SES itself is not emulated here: the tests publish SES's notification JSON to the
``SesNotificationsTopic`` and moto's SNS delivers it to the ``BounceQueue`` in its SNS envelope,
as on AWS. The local provisioning does not create SNS subscriptions, so each test subscribes the
queue as the template's ``SesNotificationsSubscription`` does.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from tests.integration.harness import REGION
from tests.integration.support import sign_in, sign_up, verified_applicant

BOUNCES = "EmailBounceFunction"
EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.fixture
def topic(stack) -> str:
    arn = stack.resources.ref("SesNotificationsTopic")
    boto3.client("sns", region_name=REGION).subscribe(TopicArn=arn, Protocol="sqs",
                                                      Endpoint=stack.resources.att("BounceQueue", "Arn"))
    return arn


def publish(topic: str, notification: dict) -> None:
    boto3.client("sns", region_name=REGION).publish(TopicArn=topic, Message=json.dumps(notification))


def bounce(address: str, bounce_type: str = "Permanent", key: str = "eventType") -> dict:
    return {key: "Bounce", "bounce": {"bounceType": bounce_type, "bounceSubType": "General",
                                      "bouncedRecipients": [{"emailAddress": address, "status": "5.1.1"}],
                                      "timestamp": "2026-04-11T03:00:05.000Z"},
            "mail": {"source": "noreply@prakerja.example.id", "destination": [address]}}


def complaint(address: str) -> dict:
    return {"notificationType": "Complaint",
            "complaint": {"complainedRecipients": [{"emailAddress": address}], "complaintFeedbackType": "abuse"},
            "mail": {"destination": [address]}}


def email_step(stack, token: str) -> dict:
    me = stack.call("GET", "/v1/me", token=token)
    assert me.status == 200, me.body
    return me.body["steps"]["email"]


def test_a_hard_bounce_makes_a_pending_address_undeliverable(stack, topic):
    # Given an applicant who signed up with an address typed in mixed case and with a +tag
    sign_up(stack, "Tidak.Ada+daftar@Example.ID")
    stack.drain("EmailQueue", "EmailSenderFunction")
    token = sign_in(stack, "tidak.ada+daftar@example.id")["access_token"]
    # When SES reports a permanent bounce for the address as it was sent
    publish(topic, bounce("Tidak.Ada+daftar@Example.ID"))
    assert stack.drain("BounceQueue", BOUNCES) == 1
    # Then GET /v1/me shows the email step UNDELIVERABLE, reason BOUNCED
    step = email_step(stack, token)
    assert (step["status"], step["reason"]) == ("UNDELIVERABLE", "BOUNCED")


def test_a_complaint_makes_a_verified_address_undeliverable(stack, topic):
    token = verified_applicant(stack, "siti.r@example.id")
    publish(topic, complaint("Siti Rahmawati <siti.r@example.id>"))
    stack.drain("BounceQueue", BOUNCES)
    step = email_step(stack, token)
    assert (step["status"], step["reason"]) == ("UNDELIVERABLE", "COMPLAINED")


def test_identity_notifications_in_raw_delivery_are_understood_too(stack):
    # Given an applicant, and a raw (non-enveloped) identity notification on the queue
    sign_up(stack, "budi@example.id")
    token = sign_in(stack, "budi@example.id")["access_token"]
    boto3.client("sqs", region_name=REGION).send_message(
        QueueUrl=stack.resources.ref("BounceQueue"), MessageBody=json.dumps(bounce("budi@example.id",
                                                                                     key="notificationType")))
    # When it is handled
    stack.drain("BounceQueue", BOUNCES)
    # Then the address is undeliverable
    assert email_step(stack, token)["status"] == "UNDELIVERABLE"


def test_soft_bounces_deliveries_and_unknown_addresses_change_nothing(stack, topic):
    # Given an applicant
    sign_up(stack, "agus@example.id")
    token = sign_in(stack, "agus@example.id")["access_token"]
    # When SES reports a transient bounce, a delivery, and a hard bounce for an address nobody has
    publish(topic, bounce("agus@example.id", bounce_type="Transient"))
    publish(topic, {"eventType": "Delivery", "delivery": {"recipients": ["agus@example.id"]}})
    publish(topic, bounce("nobody@example.id"))
    # Then every notification is accepted and the applicant is untouched
    assert stack.drain("BounceQueue", BOUNCES) == 3
    assert email_step(stack, token)["status"] == "PENDING"


def test_a_repeated_bounce_is_harmless(stack, topic):
    sign_up(stack, "dua.kali@example.id")
    token = sign_in(stack, "dua.kali@example.id")["access_token"]
    publish(topic, bounce("dua.kali@example.id"))
    publish(topic, bounce("dua.kali@example.id"))
    assert stack.drain("BounceQueue", BOUNCES) == 2
    assert email_step(stack, token)["reason"] == "BOUNCED"


def test_malformed_notifications_fail_back_to_the_queue(stack):
    # Given a body that is not JSON and a bounce without its recipients
    event = json.loads((EVENTS / "sqs_ses_bounce.json").read_text(encoding="utf-8"))
    broken = json.loads(json.dumps(event["Records"][0]))
    broken["messageId"] = "broken-1"
    broken["body"] = "{not json"
    claimed = json.loads(json.dumps(event["Records"][0]))
    claimed["messageId"] = "broken-2"
    claimed["body"] = json.dumps({"Type": "Notification", "Message": json.dumps(
        {"eventType": "Bounce", "bounce": {"bounceType": "Permanent"}})})
    # When they are handled
    result = stack.registry.invoke(BOUNCES, {"Records": [broken, claimed]})
    # Then both are reported failed (retried, then dead-lettered), never dropped
    assert {f["itemIdentifier"] for f in result["batchItemFailures"]} == {"broken-1", "broken-2"}


def test_the_sample_bounce_event_marks_its_applicant(stack):
    # Given the applicant the sample event (events/sqs_ses_bounce.json) is about
    sign_up(stack, "tidak.ada+bounce@example.id")
    token = sign_in(stack, "tidak.ada+bounce@example.id")["access_token"]
    # When the bounce handler gets the sample event
    event = json.loads((EVENTS / "sqs_ses_bounce.json").read_text(encoding="utf-8"))
    assert stack.registry.invoke(BOUNCES, event) == {"batchItemFailures": []}
    # Then the applicant's address is undeliverable
    assert email_step(stack, token)["status"] == "UNDELIVERABLE"
