"""Outbound webhooks per the Standard Webhooks spec, through a persistent outbox.

* :mod:`vbr.webhooks.signing`: ``whsec_`` secrets and ``v1`` HMAC-SHA256 signatures.
* :mod:`vbr.webhooks.outbox`: endpoints (rotatable secrets), events, deliveries, in the main DB.
* :mod:`vbr.webhooks.plugin`: the event hooks that write the outbox.
* :mod:`vbr.webhooks.delivery`: the worker (``vbr webhooks deliver``): backoff, jitter, 410.
* :mod:`vbr.webhooks.receiver`: :func:`verify` for ATS developers.
* :mod:`vbr.webhooks.api`: HTTP routes to list and replay deliveries.
"""

from vbr.webhooks.delivery import DeliveryWorker, RetryPolicy
from vbr.webhooks.outbox import EVENT_TYPES, Outbox
from vbr.webhooks.receiver import SeenIds, WebhookRejected, verify
from vbr.webhooks.signing import generate_secret, sign_headers

__all__ = ["Outbox", "DeliveryWorker", "RetryPolicy", "EVENT_TYPES", "verify", "SeenIds", "WebhookRejected",
           "generate_secret", "sign_headers"]
