"""Minting a Herald client token in Python: an HS256 JWT made with hmac, no library.

Your backend signs one per page view and hands it to the page, which sends it to Herald.

    HERALD_SECRET=... python3 herald_token.py <uid> [ttl-seconds] [group,group]
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import time


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def herald_token(secret: str, uid: str, ttl: int = 3600, groups: list[str] | None = None) -> str:
    """A token for uid, valid for ttl seconds, joining groups."""
    now = int(time.time())
    claims = {"sub": uid, "iat": now, "exp": now + ttl}
    if groups:
        claims["groups"] = groups
    header = {"alg": "HS256", "typ": "JWT"}
    signed = _base64url(json.dumps(header).encode()) + "." + _base64url(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), signed.encode("ascii"), hashlib.sha256).digest()
    return signed + "." + _base64url(signature)


if __name__ == "__main__":
    secret = os.environ.get("HERALD_SECRET", "")
    if not 2 <= len(sys.argv) <= 4 or secret == "":
        print("usage: HERALD_SECRET=... python3 herald_token.py <uid> [ttl-seconds] [group,group]",
              file=sys.stderr)
        sys.exit(2)
    ttl = int(sys.argv[2]) if len(sys.argv) > 2 else 3600
    groups = sys.argv[3].split(",") if len(sys.argv) > 3 and sys.argv[3] else None
    print(herald_token(secret, sys.argv[1], ttl, groups))
