"""The ceiling: a bare Starlette app answering the benchmarked paths with a fixed JSON body.

It does nothing per request beyond routing (and reading the body of a POST), so its throughput is
what uvicorn and Starlette cost on this machine. Run: `python -m bench.baselines.starlette_app
--port P`, with the uvicorn settings of `mockyard serve` (one worker, log level warning).
"""

from __future__ import annotations

import argparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = (
    b'{"message": "Invoice payment successful", "invoiceNo": 100123, '
    b'"amount": 15000, "walletBalance": 0}'
)


async def fixed(request: Request) -> Response:
    if request.method == "POST":
        await request.body()
    return Response(BODY, media_type="application/json")


app = Starlette(
    routes=[
        Route("/api/v1/billing/invoice/validate", fixed, methods=["GET"]),
        Route("/api/v1/billing/invoice/pay", fixed, methods=["POST"]),
    ]
)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
