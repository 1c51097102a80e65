"""The nio client we run: E2EE on, sync tokens persisted, no hidden retry loops.

nio's own 429 handling sleeps inside the request and only reads the deprecated
``retry_after_ms``; we turn that off (``max_limit_exceeded=0``) so that our supervised loops
see every 429 and can honour ``Retry-After``, which this subclass keeps on the response.
"""

from __future__ import annotations

from typing import Any

from nio import AsyncClient, AsyncClientConfig, ErrorResponse

from partner_bots.raw_api import retry_after_seconds


def client_config(pickle_key: str, request_timeout: float = 60.0) -> AsyncClientConfig:
    return AsyncClientConfig(
        encryption_enabled=True,
        # We save the token ourselves, after the batch was handled (see sync.py).
        store_sync_tokens=False,
        pickle_key=pickle_key,
        max_limit_exceeded=0,
        max_timeouts=0,
        request_timeout=request_timeout,
    )


class BotClient(AsyncClient):
    """An ``AsyncClient`` whose error responses carry ``retry_after`` in seconds."""

    async def create_matrix_response(self, response_class: type, transport_response: Any, *a, **kw):
        resp = await super().create_matrix_response(response_class, transport_response, *a, **kw)
        if isinstance(resp, ErrorResponse):
            header = transport_response.headers.get("Retry-After")
            body = {"retry_after_ms": resp.retry_after_ms} if resp.retry_after_ms else {}
            resp.retry_after = retry_after_seconds(header, body)  # type: ignore[attr-defined]
            resp.http_status = transport_response.status  # type: ignore[attr-defined]
        return resp


def retry_after_of(resp: object) -> float | None:
    """Seconds the server asked us to wait, if it did."""
    value = getattr(resp, "retry_after", None)
    if value is None:
        ms = getattr(resp, "retry_after_ms", None)
        value = ms / 1000 if ms else None
    return value


def is_rate_limited(resp: object) -> bool:
    return getattr(resp, "status_code", None) in ("M_LIMIT_EXCEEDED", 429) or (
        getattr(resp, "http_status", None) == 429
    )
