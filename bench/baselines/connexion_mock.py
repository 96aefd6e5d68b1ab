"""Connexion's own stateless mock of the spec, as `connexion run SPEC --mock=all` builds it.

An `AsyncApp` with `MockResolver(mock_all=True)`: request validation on (Connexion's default), each
operation answers its first documented example. One addition: the spec's bearer scheme names no
`x-bearerInfoFunc`, and without one `connexion run --mock=all` answers 401 to every request. The
baseline sets it to `accept_any_token`, the cheapest check Connexion allows, so the mock answers its
200 example after the same security step mockyard goes through. Served by uvicorn with the settings
of `mockyard serve` (one worker, log level warning), where `connexion run` would log at info.
Run: `python -m bench.baselines.connexion_mock --port P [--spec specs/cargoextra.yaml]`.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "cargoextra.yaml"


def accept_any_token(token: str) -> dict[str, Any]:
    """Bearer token info for the mock: every token is a valid caller."""
    return {"sub": token}


def create_app(spec: Path = SPEC) -> Any:
    """The mock app; the spec is passed as a dict, as mockyard passes its own."""
    import yaml

    # Connexion imports starlette's test client, which warns about httpx on every start.
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from connexion import AsyncApp
    from connexion.mock import MockResolver

    document = yaml.safe_load(spec.read_text(encoding="utf-8"))
    for scheme in document.get("components", {}).get("securitySchemes", {}).values():
        if scheme.get("type") == "http" and scheme.get("scheme") == "bearer":
            scheme["x-bearerInfoFunc"] = f"{__spec__.name}.accept_any_token"
    app = AsyncApp(__name__)
    app.add_api(document, resolver=MockResolver(mock_all=True))
    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9002)
    parser.add_argument("--spec", type=Path, default=SPEC)
    args = parser.parse_args()
    uvicorn.run(create_app(args.spec), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
