#!/usr/bin/env python3
"""Receiver side of asymmetric signing: checks a webhook from an ED25519 endpoint with only
its public key ("whpk_…", from GetEndpoint), as Standard Webhooks describes for "v1a".

The signed content is "<webhook-id>.<webhook-timestamp>.<body>"; webhook-signature holds
space-separated "v1a,<base64 signature>" entries (two during a key rotation). The request
is genuine when any entry verifies and the timestamp is within five minutes.

    python3 examples/python/verify_webhook.py --public-key whpk_… < request.json

request.json: {"headers": {"webhook-id": …, "webhook-timestamp": …, "webhook-signature": …},
"body_base64": "…"}. Prints {"valid": true|false, "reason": …} and exits 0 only when valid.
"""

import argparse
import base64
import json
import sys
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

TOLERANCE_SECONDS = 5 * 60


def public_key(text: str) -> Ed25519PublicKey:
    if not text.startswith("whpk_"):
        raise ValueError('the public key must start with "whpk_"')
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text[len("whpk_"):], validate=True))


def verify(key: Ed25519PublicKey, headers: dict, body: bytes, now: float) -> str:
    """Empty string when valid, else why not."""
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signature = headers.get("webhook-signature", "")
    if not (msg_id and timestamp and signature):
        return "missing webhook-* headers"
    if not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return "webhook-timestamp missing or outside the tolerance"
    signed = f"{msg_id}.{timestamp}.".encode() + body
    for entry in signature.split(" "):
        version, _, value = entry.partition(",")
        if version != "v1a":
            continue
        try:
            key.verify(base64.b64decode(value), signed)
            return ""
        except (InvalidSignature, ValueError):
            continue
    return "no v1a signature verifies with this public key"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--public-key", required=True, help='the endpoint\'s public key, "whpk_…"')
    args = parser.parse_args()
    request = json.load(sys.stdin)
    reason = verify(public_key(args.public_key), request["headers"], base64.b64decode(request["body_base64"]), time.time())
    print(json.dumps({"valid": reason == "", "reason": reason}))
    return 0 if reason == "" else 1


if __name__ == "__main__":
    sys.exit(main())
