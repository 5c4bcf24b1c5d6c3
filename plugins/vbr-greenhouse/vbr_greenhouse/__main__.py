"""``python -m vbr_greenhouse hash-key``: make a Greenhouse key and the setting that accepts it.

Only for a service without vbr's key store; with it, use ``vbr keys create --role ats``.
"""

from __future__ import annotations

import hashlib
import secrets
import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "hash-key":
        print("usage: python -m vbr_greenhouse hash-key [--tenant TENANT]", file=sys.stderr)
        return 2
    tenant = args[args.index("--tenant") + 1] if "--tenant" in args else "default"
    key = "ghk_" + secrets.token_urlsafe(32)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    print(f"key (give it to Greenhouse; shown once, not stored): {key}")
    print(f"setting for vbr serve: VBR_GREENHOUSE_KEY_SHA256={digest}:{tenant}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
