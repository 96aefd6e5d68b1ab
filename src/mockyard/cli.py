"""The `mockyard` command: parses options, calls the engine, maps the result to an exit code."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import click

# Connexion imports starlette's test client, which warns about httpx on every start.
warnings.filterwarnings("ignore", message=".*httpx2.*")

from mockyard import workspace as workspace_mod  # noqa: E402
from mockyard.app import CONFIG_ENV, ServeConfig, build  # noqa: E402
from mockyard.errors import MockyardError, WorkspaceError  # noqa: E402
from mockyard.fixtures import build as build_fixtures  # noqa: E402

_WORKSPACE = click.option(
    "--workspace",
    "-w",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory holding mockyard.yaml, specs/, handlers/ and fixtures/.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Stateful sandbox and contract tester for OpenAPI services."""


@main.command()
@_WORKSPACE
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=9000, show_default=True, type=int, help="Port to listen on.")
@click.option("--seed", type=int, help="Faker seed for the bulk data [default: mockyard.yaml's].")
@click.option(
    "--state",
    type=click.Path(dir_okay=False),
    help="SQLite file that keeps state across restarts [default: a fresh temporary file].",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes; all share one state.",
)
@click.option(
    "--strict", is_flag=True, help="Validate every response against the spec (500 if not)."
)
def serve(
    workspace: str,
    host: str,
    port: int,
    seed: int | None,
    state: str | None,
    workers: int,
    strict: bool,
) -> None:
    """Serve the workspace's APIs as one stateful sandbox."""
    import uvicorn

    if not state:
        tmp = tempfile.mkdtemp(prefix="mockyard-")
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        state = str(Path(tmp) / "state.sqlite3")
    config = ServeConfig(
        workspace=workspace, state=str(Path(state).resolve()), seed=seed, strict=strict
    )
    sandbox = _or_exit(lambda: build(config))  # seeds the state once, before any worker starts
    _banner(workspace, host, port, sandbox.state.seed, state)
    if workers == 1:
        uvicorn.run(sandbox.app, host=host, port=port, log_level="warning")
    else:
        os.environ[CONFIG_ENV] = config.to_env()
        uvicorn.run(
            "mockyard.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
        )


@main.command()
@_WORKSPACE
@click.option("--seed", type=int, help="Faker seed [default: mockyard.yaml's].")
@click.option("--api", "api_name", help="Only this API's records.")
def fixtures(workspace: str, seed: int | None, api_name: str | None) -> None:
    """Print the sandbox records (catalogue + generated) as JSON; same seed, same output."""

    def records() -> dict[str, object]:
        ws = workspace_mod.load(workspace)
        sources = [ws.api(api_name)] if api_name else list(ws.apis)
        chosen = ws.seed if seed is None else seed
        return {
            s.name: build_fixtures(
                workspace_mod.read_yaml(s.fixtures) or {}, chosen, source=s.fixtures
            )
            for s in sources
            if s.fixtures
        }

    click.echo(json.dumps(_or_exit(records), indent=2, sort_keys=True))


def _banner(workspace: str, host: str, port: int, seed: int, state: str) -> None:
    ws = workspace_mod.load(workspace)
    click.echo(f"mockyard sandbox on http://{host}:{port}  (seed {seed}, state {state})")
    for source in ws.apis:
        click.echo(f"\n  {source.name}  ({source.spec.relative_to(ws.root)})")
        fixture = workspace_mod.read_yaml(source.fixtures) if source.fixtures else None
        for cred in (fixture or {}).get("credentials", []):
            click.echo(f"    {cred['value']:<28} {cred.get('note', '')}")
    click.echo(f"\n  health: http://{host}:{port}/__mockyard/health    Ctrl-C to stop\n")


def _or_exit(action):  # type: ignore[no-untyped-def]
    """Run `action`; a workspace problem ends the command with one line and exit code 2."""
    try:
        return action()
    except WorkspaceError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except MockyardError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
