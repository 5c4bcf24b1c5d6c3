"""Settings of the Greenhouse adapter, read from the environment (all optional).

``VBR_GREENHOUSE_PREFIX``
    Where the partner endpoints live (default ``/greenhouse``): give Greenhouse
    ``<public url><prefix>/list_tests``, ``/send_test``, ``/test_status`` and ``/response_error``.
``VBR_GREENHOUSE_PUBLIC_URL``
    The service's public base URL (``https://vbr.trust.nhs.uk``), used in links given to
    Greenhouse. Default: the base URL of the request.
``VBR_GREENHOUSE_KEY_SHA256``
    Only needed when the service has no key store (``vbr keys``): comma-separated SHA-256 hex
    digests of the keys Greenhouse may use, each optionally ``digest:tenant`` (default tenant
    ``default``). Make one with ``python -m vbr_greenhouse hash-key``. With a key store, make
    a key with ``vbr keys create --role ats --tenant <trust>`` instead; its hash is stored there.
``VBR_GREENHOUSE_CALLBACK_KEY``
    The key vbr sends (as the Basic-auth user name) with the completion ``PATCH`` to the URL
    Greenhouse gave in ``send_test``. Without it the PATCH is sent without credentials.
``VBR_GREENHOUSE_PROFILE_URL``
    Template of ``partner_profile_url`` (default ``{public_url}/v1/applications/{application_id}``);
    fields: ``public_url``, ``application_id``, ``campaign_id``, ``interview_id``.
``VBR_GREENHOUSE_SCORER``
    The scorer used when a candidate submits the test page (default ``evidence``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_PROFILE_URL = "{public_url}/v1/applications/{application_id}"


@dataclass
class Settings:
    prefix: str = "/greenhouse"
    public_url: str | None = None
    key_hashes: dict[str, str] = field(default_factory=dict)  # sha256 hex -> tenant
    callback_key: str | None = None
    profile_url: str = DEFAULT_PROFILE_URL
    scorer: str = "evidence"
    callback_timeout: float = 10.0
    max_attempts: int = 8
    background_delivery: bool = True

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        hashes: dict[str, str] = {}
        for item in (env.get("VBR_GREENHOUSE_KEY_SHA256") or "").split(","):
            item = item.strip()
            if not item:
                continue
            digest, _, tenant = item.partition(":")
            hashes[digest.strip().lower()] = tenant.strip() or "default"
        prefix = "/" + (env.get("VBR_GREENHOUSE_PREFIX") or "/greenhouse").strip("/")
        return cls(
            prefix=prefix,
            public_url=(env.get("VBR_GREENHOUSE_PUBLIC_URL") or "").rstrip("/") or None,
            key_hashes=hashes,
            callback_key=env.get("VBR_GREENHOUSE_CALLBACK_KEY") or None,
            profile_url=env.get("VBR_GREENHOUSE_PROFILE_URL") or DEFAULT_PROFILE_URL,
            scorer=env.get("VBR_GREENHOUSE_SCORER") or "evidence",
        )
