"""The signature scheme shared by outbound and inbound webhooks (DESIGN.md, public contract).

X-Jiuzhu-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{body}"> with X-Jiuzhu-Timestamp in Unix seconds.
"""
from __future__ import annotations

import hashlib
import hmac

MAX_SKEW_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp_header: str | None, signature_header: str | None, body: bytes,
           now_seconds: float) -> str | None:
    """None when valid; otherwise why not (for the 401 answer and the log)."""
    if not timestamp_header or not signature_header:
        return "缺少签名或时间戳"
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        return "时间戳格式错误"
    if abs(now_seconds - timestamp) > MAX_SKEW_SECONDS:
        return "时间戳已过期"
    if not hmac.compare_digest(sign(secret, timestamp, body), signature_header.strip()):
        return "签名不正确"
    return None
