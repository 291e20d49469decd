# /// script
# requires-python = ">=3.10"
# dependencies = [
#   "httpx>=0.20",
#   "tabulate",
#   "attrs>=21",
# ]
# ///
"""Check the status pages of a list of services (run with ``uv run fetch_status.py``)."""
import asyncio

import attrs
import httpx
from tabulate import tabulate


@attrs.define
class Service:
    name: str
    url: str


async def check(client, service):
    try:
        response = await client.get(service.url, timeout=10)
        return service.name, response.status_code
    except httpx.HTTPError as exc:
        return service.name, type(exc).__name__


async def main(services):
    async with httpx.AsyncClient() as client:
        rows = await asyncio.gather(*(check(client, s) for s in services))
    print(tabulate(rows, headers=["service", "status"]))


if __name__ == "__main__":
    asyncio.run(main([Service("example", "https://example.org")]))
