"""Signatures checked by the independent ``standardwebhooks`` package; the receiving helper
rejects forged, stale, future and replayed messages."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timezone

import pytest
import standardwebhooks

from vbr.webhooks.receiver import (BadSignature, BadTimestamp, MissingHeaders, Replayed, SeenIds, verify)
from vbr.webhooks.signing import generate_secret, secret_bytes, sign_headers, signature

BODY = json.dumps({"type": "shortlist.released", "data": {"campaign_id": "c1", "application_ids": ["a1"]}})


def test_vbr_signature_verifies_with_standardwebhooks():
    secret = generate_secret()
    ts = int(time.time())
    headers = sign_headers([secret], "msg_1", ts, BODY)
    assert headers["webhook-signature"].startswith("v1,")
    assert standardwebhooks.Webhook(secret).verify(BODY, headers) == json.loads(BODY)


def test_signature_matches_the_spec_example():
    # the example in the Standard Webhooks specification
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = '{"test": 2432232314}'
    sig = signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_standardwebhooks_signature_verifies_with_vbr_receiver():
    secret = generate_secret()
    now = datetime.now(tz=timezone.utc)
    sig = standardwebhooks.Webhook(secret).sign("msg_x", now, BODY)
    headers = {"webhook-id": "msg_x", "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": sig}
    assert verify(headers, BODY, secret)["type"] == "shortlist.released"


def test_rotation_both_secrets_sign_and_either_verifies():
    old, new = generate_secret(), generate_secret()
    headers = sign_headers([new, old], "msg_2", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for s in (old, new):
        standardwebhooks.Webhook(s).verify(BODY, headers)
        verify(headers, BODY, s)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(generate_secret()).verify(BODY, headers)


def test_forged_signature_and_altered_body_are_rejected():
    secret, attacker = generate_secret(), generate_secret()
    ts = int(time.time())
    forged = sign_headers([attacker], "msg_3", ts, BODY)
    with pytest.raises(BadSignature):
        verify(forged, BODY, secret)
    good = sign_headers([secret], "msg_3", ts, BODY)
    with pytest.raises(BadSignature):
        verify(good, BODY.replace("a1", "a2"), secret)
    with pytest.raises(BadSignature):  # the id is signed too
        verify({**good, "webhook-id": "msg_4"}, BODY, secret)
    with pytest.raises(BadSignature):  # a signature of another version is not accepted
        verify({**good, "webhook-signature": "v1a," + good["webhook-signature"][3:]}, BODY, secret)
    with pytest.raises(BadSignature):
        verify({**good, "webhook-signature": "v1,garbage"}, BODY, secret)


def test_missing_headers_are_rejected():
    secret = generate_secret()
    good = sign_headers([secret], "msg_5", int(time.time()), BODY)
    for name in good:
        with pytest.raises(MissingHeaders):
            verify({k: v for k, v in good.items() if k != name}, BODY, secret)


@pytest.mark.parametrize("offset", [-301, 301, -3600, 86400])
def test_stale_and_future_timestamps_are_rejected(offset):
    secret = generate_secret()
    now = 1_800_000_000
    headers = sign_headers([secret], "msg_6", now + offset, BODY)
    with pytest.raises(BadTimestamp):
        verify(headers, BODY, secret, now=lambda: now)
    assert verify(headers, BODY, secret, now=lambda: now + offset)  # fine at the time it was sent


@pytest.mark.parametrize("bad", ["", "abc", "1.5e9", "-5", "1800000000.0", "9" * 20])
def test_malformed_timestamps_are_rejected(bad):
    secret = generate_secret()
    headers = sign_headers([secret], "msg_7", int(time.time()), BODY)
    with pytest.raises((BadTimestamp, MissingHeaders)):
        verify({**headers, "webhook-timestamp": bad}, BODY, secret)


def test_replayed_id_is_rejected_but_forgery_does_not_poison_the_seen_set():
    secret = generate_secret()
    seen = SeenIds()
    headers = sign_headers([secret], "msg_8", int(time.time()), BODY)
    forged = {**headers, "webhook-signature": sign_headers([generate_secret()], "msg_8", int(time.time()), BODY)[
        "webhook-signature"]}
    with pytest.raises(BadSignature):
        verify(forged, BODY, secret, seen_ids=seen)
    assert "msg_8" not in seen
    assert verify(headers, BODY, secret, seen_ids=seen)
    with pytest.raises(Replayed):
        verify(headers, BODY, secret, seen_ids=seen)
    # a re-signed copy (new timestamp) of the same message id is still a replay
    again = sign_headers([secret], "msg_8", int(time.time()) + 1, BODY)
    with pytest.raises(Replayed):
        verify(again, BODY, secret, seen_ids=seen)


def test_headers_are_case_insensitive_and_a_plain_set_works():
    secret = generate_secret()
    headers = {k.title(): v for k, v in sign_headers([secret], "msg_9", int(time.time()), BODY).items()}
    seen: set[str] = set()
    assert verify(headers, BODY.encode(), [generate_secret(), secret], seen_ids=seen)
    assert seen == {"msg_9"}


def test_seen_ids_is_bounded():
    seen = SeenIds(max_items=3)
    for i in range(5):
        seen.add(f"m{i}")
    assert len(seen) == 3 and "m0" not in seen and "m4" in seen


def test_secrets():
    s = generate_secret()
    assert s.startswith("whsec_") and len(secret_bytes(s)) == 32
    assert base64.b64decode(s.removeprefix("whsec_"))
    from vbr.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        secret_bytes("whsec_not base64!")
    with pytest.raises(ValidationFailed):
        secret_bytes("whsec_" + base64.b64encode(b"short").decode())
