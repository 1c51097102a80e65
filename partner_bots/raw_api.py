"""Direct client-server API calls that nio 0.26 does not offer (cross-signing, joins with
``via``), and the rate-limit data nio throws away (the ``Retry-After`` header)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp


@dataclass(frozen=True)
class RawResponse:
    status: int
    body: dict[str, Any]
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def errcode(self) -> str | None:
        return self.body.get("errcode")


def retry_after_seconds(header: str | None, body: dict[str, Any]) -> float | None:
    """``Retry-After`` (spec ≥ 1.10) wins over the deprecated ``retry_after_ms``."""
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
    ms = body.get("retry_after_ms")
    if isinstance(ms, int | float):
        return max(0.0, ms / 1000)
    return None


@dataclass
class RawApi:
    """A thin JSON client bound to one access token."""

    base_url: str
    access_token: str
    timeout: float = 30.0
    _http: aiohttp.ClientSession | None = field(default=None, repr=False)

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._http

    async def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, **params: str
    ) -> RawResponse:
        headers = {"Authorization": f"Bearer {self.access_token}"}
        url = self.base_url.rstrip("/") + path
        async with self._session().request(
            method, url, json=body, headers=headers, params=params or None
        ) as resp:
            try:
                data = await resp.json(content_type=None)
            except ValueError:
                data = {}
            if not isinstance(data, dict):
                data = {}
            return RawResponse(
                resp.status, data, retry_after_seconds(resp.headers.get("Retry-After"), data)
            )

    async def keys_query(self, users: dict[str, list[str]]) -> RawResponse:
        return await self.request("POST", "/_matrix/client/v3/keys/query", {"device_keys": users})

    async def join(self, room_id: str, via: list[str]) -> RawResponse:
        path = f"/_matrix/client/v3/join/{quote(room_id, safe='')}"
        url_params = "&".join(f"server_name={quote(s, safe='')}" for s in via)
        if url_params:
            path += "?" + url_params
        return await self.request("POST", path, {})

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
