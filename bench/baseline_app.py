"""The throughput baseline: a bare Starlette app answering a constant JSON body of a given size.

Run under the same uvicorn configuration as ``edenfake serve`` (see bench/run.py).
"""

from __future__ import annotations

import os
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def build(size: int) -> Starlette:
    filler = max(0, size - len(b'{"data":""}'))
    body = b'{"data":"' + b"a" * filler + b'"}'

    async def constant(request: Request) -> Response:
        await request.body()
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/{path:path}", constant, methods=["GET", "POST"])])


if __name__ == "__main__":
    port, size = int(sys.argv[1]), int(sys.argv[2])
    config = sys.argv[3] if len(sys.argv) > 3 else "standard"
    loop, http = ("asyncio", "h11") if config == "plain" else ("uvloop", "httptools")
    os.environ.setdefault("PYTHONHASHSEED", "0")
    uvicorn.run(
        build(size),
        host="127.0.0.1",
        port=port,
        loop=loop,
        http=http,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
    )
