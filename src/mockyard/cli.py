"""The `mockyard` command: parses options, calls the engine, maps the result to an exit code."""

from __future__ import annotations

import atexit
import copy
import json
import os
import shutil
import signal
import sys
import tempfile
import warnings
from pathlib import Path

import click

# Connexion imports starlette's test client, which warns about httpx on every start.
warnings.filterwarnings("ignore", message=".*httpx2.*")

from mockyard import workspace as workspace_mod  # noqa: E402
from mockyard.app import CONFIG_ENV, Sandbox, ServeConfig, build  # noqa: E402
from mockyard.controls import parse_latency  # noqa: E402
from mockyard.errors import MockyardError, WorkspaceError  # noqa: E402
from mockyard.fixtures import build as build_fixtures  # noqa: E402
from mockyard.safety import ExposedWithoutToken, check_exposure  # noqa: E402
from mockyard.specs import operations  # noqa: E402

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
@click.option(
    "--latency",
    callback=lambda _ctx, _param, value: _latency(value),
    help="Delay every operation: MS or LOW-HIGH (e.g. 100-400) [default: mockyard.yaml's].",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    help="An origin allowed by CORS; repeat for several [default: mockyard.yaml's, or any].",
)
@click.option("--no-cors", is_flag=True, help="Send no CORS headers and answer no preflights.")
@click.option(
    "--journal-size",
    type=click.IntRange(1),
    help="Requests kept by GET /__mockyard/requests [default: mockyard.yaml's, or 500].",
)
@click.option(
    "--admin-token",
    envvar="MOCKYARD_ADMIN_TOKEN",
    help="Require this token (Authorization: Bearer) on /__mockyard/*; needed off loopback.",
)
@click.option("--quiet", "-q", is_flag=True, help="No access-log line per request.")
def serve(
    workspace: str,
    host: str,
    port: int,
    seed: int | None,
    state: str | None,
    workers: int,
    strict: bool,
    latency: str | None,
    cors_origins: tuple[str, ...],
    no_cors: bool,
    journal_size: int | None,
    admin_token: str | None,
    quiet: bool,
) -> None:
    """Serve the workspace's APIs as one stateful sandbox."""
    import uvicorn

    _or_exit(lambda: check_exposure(host, admin_token))  # before anything binds or builds
    scratch = _scratch_dir()
    if not state:
        state = str(Path(tempfile.mkdtemp(prefix="mockyard-")) / "state.sqlite3")
        atexit.register(shutil.rmtree, Path(state).parent, ignore_errors=True)
    config = ServeConfig(
        workspace=workspace,
        state=str(Path(state).resolve()),
        seed=seed,
        strict=strict,
        latency=latency,
        cors_origins=[] if no_cors else (list(cors_origins) or None),
        journal=str(Path(scratch) / "requests.sqlite3"),
        journal_size=journal_size,
        admin_token=admin_token or "",
    )
    sandbox = _or_exit(lambda: build(config))  # seeds the state once, before any worker starts
    _banner(sandbox, workspace, host, port, state, bool(admin_token))
    logging = _log_config(quiet)
    # uvicorn re-raises SIGTERM after a graceful shutdown; exit normally so temp files go too.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    if workers == 1:
        uvicorn.run(
            sandbox.app,
            host=host,
            port=port,
            log_level="warning",
            log_config=logging,
            access_log=False,
        )
    else:
        os.environ[CONFIG_ENV] = config.to_env()
        uvicorn.run(
            "mockyard.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            log_config=logging,
            access_log=False,
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


def _latency(value: str | None) -> str | None:
    if value is not None:
        try:
            parse_latency(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from exc
    return value


def _scratch_dir() -> str:
    """A private directory for the request journal: in memory (tmpfs) where there is one."""
    shm = Path("/dev/shm")
    parent = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    path = tempfile.mkdtemp(prefix="mockyard-", dir=parent)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _log_config(quiet: bool) -> dict[str, object]:
    """uvicorn's logging, plus one plain line per request on stderr (`mockyard.access`)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["mockyard"] = {"format": "%(message)s"}
    config["handlers"]["mockyard"] = {
        "class": "logging.StreamHandler",
        "formatter": "mockyard",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["mockyard"] = {"handlers": ["mockyard"], "level": "INFO", "propagate": False}
    config["loggers"]["mockyard.access"] = {"level": "WARNING" if quiet else "INFO"}
    return config


def _banner(
    sandbox: Sandbox, workspace: str, host: str, port: int, state: str, guarded: bool
) -> None:
    ws = workspace_mod.load(workspace)
    base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    click.echo(f"mockyard sandbox on {base}  (seed {sandbox.state.seed}, state {state})")
    served = list(operations(sandbox.spec))
    for source in ws.apis:
        ops = [op for op in served if op.api == source.name]
        spec = (
            source.spec.relative_to(ws.root) if source.spec.is_relative_to(ws.root) else source.spec
        )
        click.echo(f"\n  {source.name}  ({spec}, {len(ops)} operations)")
        width = max((len(op.path) for op in ops), default=0)
        for op in ops:
            click.echo(f"    {op.method.upper():<7} {op.path:<{width}}  {op.operation_id}")
        fixture = sandbox.runtime.apis[source.name].fixture
        credentials = (fixture or {}).get("credentials") or []
        if credentials:
            click.echo("    tokens:")
        for cred in credentials:
            click.echo(f"      {cred['value']:<28} {cred.get('note', '')}")
    controls = sandbox.controls
    origins = ", ".join(controls.cors_origins) or "off"
    latency = controls.latency
    delay = "none" if latency is None else f"{latency.low:g}-{latency.high:g} ms"
    click.echo(f"\n  docs:     {base}/ui")
    click.echo(
        f"  admin:    {base}/__mockyard/ (health, reset, state, catalogue, requests)"
        + ("  [admin token required]" if guarded else "")
    )
    click.echo(
        f"  controls: CORS {'any origin' if origins == '*' else origins}, latency {delay}, "
        f"{len(controls.operations)} operation(s) with their own, "
        f"journal of {controls.journal_size} requests"
    )
    click.echo("  Ctrl-C to stop\n")


def _or_exit(action):  # type: ignore[no-untyped-def]
    """Run `action`; a workspace problem ends the command with one line and exit code 2."""
    try:
        return action()
    except (WorkspaceError, ExposedWithoutToken) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except MockyardError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
