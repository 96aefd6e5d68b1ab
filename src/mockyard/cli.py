"""The `mockyard` command: parses options, calls the engine, maps the result to an exit code."""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import shutil
import signal
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

# Connexion imports starlette's test client, which warns about httpx on every start.
warnings.filterwarnings("ignore", message=".*httpx2.*")

from mockyard import origins, startup  # noqa: E402
from mockyard import workspace as workspace_mod  # noqa: E402
from mockyard.app import (  # noqa: E402
    CONFIG_ENV,
    Sandbox,
    ServeConfig,
    build,
    inferred_records,
    served_workspace,
)
from mockyard.controls import parse_latency  # noqa: E402
from mockyard.errors import MockyardError  # noqa: E402
from mockyard.logs import log_config  # noqa: E402
from mockyard.safety import check_exposure  # noqa: E402
from mockyard.specs import operations  # noqa: E402
from mockyard.state import seeded_records  # noqa: E402
from mockyard.store import is_url, normalised, shown  # noqa: E402
from mockyard.workspace import WATCHED_FILES, watched_dirs  # noqa: E402

_WORKSPACE = click.option(
    "--workspace",
    "-w",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory holding mockyard.yaml, specs/, handlers/ and fixtures/.",
)

_SPEC = click.option(
    "--spec",
    "spec_files",
    multiple=True,
    type=click.Path(exists=True),
    help="An OpenAPI file (or a folder of them) to use instead of a workspace; repeatable.",
)


_JUNIT = click.option(
    "--junit", type=click.Path(dir_okay=False), help="Write a JUnit XML report here."
)
_REPORT = click.option(
    "--report",
    type=click.Path(dir_okay=False),
    help="Write an HTML (.html) or Markdown (.md) report.",
)
_ADMIN_TOKEN = click.option(
    "--admin-token",
    envvar="MOCKYARD_ADMIN_TOKEN",
    help="The sandbox's admin token, if it was started with one (env MOCKYARD_ADMIN_TOKEN).",
)
_REQUEST_TIMEOUT = click.option(
    "--request-timeout", default=10.0, show_default=True, type=click.FloatRange(0.1)
)


_F = TypeVar("_F", bound=Callable[..., Any])


def _wait(what: str) -> Callable[[_F], _F]:
    return click.option(
        "--wait",
        default=0.0,
        show_default=True,
        type=click.FloatRange(0),
        help=f"Seconds to wait for {what} to answer before giving up.",
    )


class _Shown(click.ClickException):
    """A mockyard error, raised as the click error `_Commands.main` shows."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click: a class default, set here


class _Commands(click.Group):
    """The one error boundary of the CLI. Every command's `MockyardError` ends it as one line
    `error: …` on stderr and its `exit_code`; so do click's own usage errors (exit 2, instead of
    click's usage block) and anything unexpected (exit 2), never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except MockyardError as exc:
            raise _Shown(str(exc), exc.exit_code) from exc
        except KeyboardInterrupt:
            raise _Shown("interrupted", 130) from None
        except Exception as exc:
            raise _Shown(f"unexpected {type(exc).__name__}: {_one_line(str(exc))}", 2) from exc

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, standalone_mode: bool = True, **extra: Any
    ) -> Any:
        if not standalone_mode:
            return super().main(args, standalone_mode=False, **extra)
        try:
            code = super().main(args, standalone_mode=False, **extra)
        except click.ClickException as exc:
            where = getattr(exc, "ctx", None)
            hint = f" (see '{where.command_path} --help')" if where is not None else ""
            click.echo(f"error: {_one_line(exc.format_message())}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Stateful sandbox and contract tester for OpenAPI services."""


@main.command()
@_WORKSPACE
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    default=9000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on.",
)
@click.option("--seed", type=int, help="Faker seed for the bulk data [default: mockyard.yaml's].")
@click.option(
    "--state",
    envvar="MOCKYARD_STATE",
    help="Where the state lives: a SQLite file kept across restarts, or postgresql://USER@HOST"
    ":PORT/DB, shared by every instance on it [default: mockyard.yaml's, or a fresh temp file].",
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
    "--durable",
    is_flag=True,
    help="Fsync every write, so acknowledged writes survive a power cut, not only a crash.",
)
@_SPEC
@click.option(
    "--reload",
    is_flag=True,
    help="Restart when a spec, handler or fixture changes; each restart reseeds the state.",
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
    help="An origin allowed by CORS besides localhost ones ('*': any); repeatable "
    "[default: mockyard.yaml's].",
)
@click.option(
    "--admin-origin",
    "admin_origins",
    multiple=True,
    help="An origin whose pages may use /__mockyard/*; repeatable [default: none].",
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
    durable: bool,
    spec_files: tuple[str, ...],
    reload: bool,
    latency: str | None,
    cors_origins: tuple[str, ...],
    admin_origins: tuple[str, ...],
    no_cors: bool,
    journal_size: int | None,
    admin_token: str | None,
    quiet: bool,
) -> None:
    """Serve the workspace's APIs (or --spec files) as one stateful sandbox."""
    import uvicorn

    if reload and workers > 1:
        raise click.UsageError("--reload runs one worker; drop --workers")
    check_exposure(host, admin_token)  # before anything binds or builds
    cors = origins.flag_values(cors_origins, "--cors-origin")
    admins = origins.flag_values(admin_origins, "--admin-origin")
    scratch = _scratch_dir()
    specs = tuple(str(Path(s).resolve()) for s in spec_files)
    ws = served_workspace(ServeConfig(workspace=workspace, specs=specs))  # loaded once, here
    state = state or ws.state
    if state and not is_url(state):
        startup.state_file(state)
    if not state:
        state = str(Path(tempfile.mkdtemp(prefix="mockyard-")) / "state.sqlite3")
        atexit.register(shutil.rmtree, Path(state).parent, ignore_errors=True)
    config = ServeConfig(
        workspace=workspace,
        state=normalised(state),
        seed=seed,
        strict=strict,
        durable=durable,
        specs=specs,
        reload=reload,
        latency=latency,
        cors_origins=[] if no_cors else (cors or None),
        admin_origins=admins or None,
        journal=str(Path(scratch) / "requests.sqlite3"),
        journal_size=journal_size,
        admin_token=admin_token or "",
    )
    with startup.long_lived():
        sandbox = build(config, ws)  # seeds the state once, before any worker starts
    host = startup.listen_address(host, port)  # what uvicorn will bind
    _banner(sandbox, host, port, shown(state), bool(admin_token))
    logging = log_config(quiet)
    # uvicorn re-raises SIGTERM after a graceful shutdown; exit normally so temp files go too.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "log_config": logging,
        "access_log": False,
        "ws": "none",  # an HTTP sandbox: importing a WebSocket stack is 5% of a cold start
    }
    if workers == 1 and not reload:
        uvicorn.run(sandbox.app, **common)
        return
    # Several processes (workers, or the reloader's child) build the app from the config.
    os.environ[CONFIG_ENV] = config.to_env()
    if reload:
        common.update(
            reload=True,
            reload_dirs=[str(d) for d in watched_dirs(ws)],
            reload_includes=list(WATCHED_FILES),
        )
    else:
        common["workers"] = workers
    uvicorn.run("mockyard.app:app_from_env", factory=True, **common)


@main.command()
@_WORKSPACE
@click.option("--seed", type=int, help="Faker seed [default: mockyard.yaml's].")
@click.option("--api", "api_name", help="Only this API's records.")
def fixtures(workspace: str, seed: int | None, api_name: str | None) -> None:
    """Print the sandbox records (catalogue + generated, and those the inferred collections
    start with) as JSON; same seed, same output."""

    ws = workspace_mod.load(workspace)
    sources = [ws.api(api_name)] if api_name else list(ws.apis)
    chosen = ws.seed if seed is None else seed
    files = {s.name: (s.fixtures, ws.fixtures[s.name]) for s in sources}
    built = seeded_records(files, chosen, lambda s, fixed: inferred_records(ws, s, fixed))
    records = {api: colls for api, colls in built.items() if api in files and colls}
    click.echo(json.dumps(records, indent=2, sort_keys=True))


@main.command("specs")
@_WORKSPACE
@_SPEC
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def specs_command(workspace: str, spec_files: tuple[str, ...], as_json: bool) -> None:
    """List every operation, whether a handler or the generator answers it, and where each
    effective spec departs from its upstream vendor blocks (specs/upstream/<api>/).

    Exits 2, naming the file and the problem, when a spec is invalid."""
    config = ServeConfig(workspace=workspace, specs=spec_files)
    from mockyard import drift  # heavy (the spec validator): only this command needs it

    result = drift.report(served_workspace(config))
    if as_json:
        click.echo(json.dumps(_jsonable(result), indent=2))
        return
    width = max((len(o.api) for o in result.operations), default=3)
    for op in result.operations:
        route = f"{op.method.upper():<6} {op.path}"
        click.echo(f"{op.api:<{width}}  {route:<50} {op.operation_id:<40} {op.answered_by}")
    _show_resources(result)
    for api, files in result.upstream.items():
        departures = [d for d in result.departures if d.api == api]
        click.echo(f"\n{api}: {len(departures)} departure(s) from {len(files)} upstream file(s)")
        last = None
        for d in departures:
            if (d.method, d.path) != last:
                click.echo(f"  {d.method} {d.path}")
                last = (d.method, d.path)
            click.echo(f"    - {d.detail}")
    for api, notes in result.notes.items():
        click.echo(f"\n{api}: changed on loading (the served spec differs here):")
        for note in notes:
            click.echo(f"    - {note}")


def _show_resources(result: Any) -> None:
    """The inferred resources of a drift.SpecReport, and the operations none answers."""
    if result.resources:
        click.echo("\nresources inferred from the specs:")
    for res in result.resources:
        extra = [f"collection {res.collection}", f"id {res.id_property}"]
        extra += [f"parent {p}" for p in res.parents]
        extra += [f"where {k}={v}" for k, v in res.where.items()]
        extra += [f"view {res.view}"] if res.view else []
        paths = res.collection_path + (f", {res.item_path}" if res.item_path else "")
        click.echo(f"  {res.api}  {res.name}  ({paths})  {', '.join(extra)}")
        for op in res.operations:
            envelope = f"  envelope {op.envelope}" if op.envelope else ""
            route = f"{op.method:<6} {op.path}"
            click.echo(f"    {route:<56} {op.action:<8} {op.operation_id}{envelope}")
    if result.not_mapped:
        click.echo("\nnot answered by a resource:")
    for op in result.not_mapped:
        route = f"{op.method:<6} {op.path}"
        click.echo(f"  {op.api}  {route:<56} {op.operation_id}: {op.reason}")


def _jsonable(result: Any) -> dict[str, object]:
    """A drift.SpecReport as plain JSON data."""
    return {
        "operations": [dataclasses.asdict(o) for o in result.operations],
        "resources": [dataclasses.asdict(r) for r in result.resources],
        "not_mapped": [dataclasses.asdict(n) for n in result.not_mapped],
        "departures": [dataclasses.asdict(d) for d in result.departures],
        "upstream": {api: [str(p) for p in files] for api, files in result.upstream.items()},
        "notes": result.notes,
    }


@main.command()
@_WORKSPACE
@click.option(
    "--base-url", required=True, help="The deployment to test, e.g. http://127.0.0.1:9000."
)
@click.option("--api", "apis", multiple=True, help="Test only this workspace API (repeatable).")
@click.option(
    "--spec",
    "specs",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Test this OpenAPI file (3.0 or 3.1) instead of the workspace's specs (repeatable).",
)
@click.option(
    "--token",
    envvar="MOCKYARD_CONTRACT_TOKEN",
    help="Credential for the spec's security schemes (env MOCKYARD_CONTRACT_TOKEN).",
)
@click.option(
    "--header", "-H", "headers", multiple=True, metavar="'NAME: VALUE'", help="Extra header."
)
@click.option(
    "--max-examples",
    default=100,
    show_default=True,
    type=click.IntRange(1),
    help="Generated cases per operation and phase.",
)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--seed", type=int, help="Seed for reproducible generation [default: random].")
@click.option(
    "--checks",
    multiple=True,
    default=["all"],
    show_default=True,
    help="'all' or a comma-separated list of Schemathesis checks.",
)
@click.option(
    "--phases",
    multiple=True,
    default=["examples,coverage,fuzzing,stateful"],
    show_default=True,
    help="Comma-separated Schemathesis phases to run.",
)
@_JUNIT
@_REPORT
@click.option(
    "--allow-mutations",
    is_flag=True,
    help="Also send what can change state to a target that is not a loopback address.",
)
@click.option(
    "--no-mutations",
    is_flag=True,
    help="Read-only run: send nothing that can change state (implied off loopback).",
)
@_ADMIN_TOKEN
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False),
    help="Fail only on failures this baseline file does not list; report those fixed since.",
)
@click.option(
    "--write-baseline",
    type=click.Path(dir_okay=False),
    help="Record this run's failures as a baseline file (sorted YAML, no dates or seeds).",
)
@_wait("the target")
@_REQUEST_TIMEOUT
def contract(
    workspace: str,
    base_url: str,
    apis: tuple[str, ...],
    specs: tuple[str, ...],
    token: str | None,
    headers: tuple[str, ...],
    max_examples: int,
    workers: int,
    seed: int | None,
    checks: tuple[str, ...],
    phases: tuple[str, ...],
    junit: str | None,
    report: str | None,
    allow_mutations: bool,
    no_mutations: bool,
    admin_token: str | None,
    baseline: str | None,
    write_baseline: str | None,
    wait: float,
    request_timeout: float,
) -> None:
    """Test that a deployment honours its OpenAPI contract (Schemathesis checks).

    Exit status: 0 every operation was tested and every check passed; 1 a contract failure was
    found (one not in --baseline); 2 the run could not test (unreachable URL, unknown API, bad
    spec or option, an operation no request reached, a run aborted); 130 interrupted.
    """
    from mockyard.contract import ContractConfig  # Schemathesis: only this command needs it

    config = ContractConfig(
        base_url=base_url,
        workspace=workspace,
        apis=apis,
        specs=specs,
        token=token,
        headers=tuple(_header(h) for h in headers),
        max_examples=max_examples,
        workers=workers,
        seed=seed,
        checks=checks,
        phases=phases,
        allow_mutations=allow_mutations,
        no_mutations=no_mutations,
        admin_token=admin_token,
        baseline=baseline,
        wait=wait,
        request_timeout=request_timeout,
    )
    from mockyard import contract as contract_mod

    _exit(_report_run(contract_mod.run(config), report, junit, write_baseline))


def _exit(result: Any) -> None:
    """A run's exit status: 0 passed (or alike), 1 failed (or different), 2 errored, 130 Ctrl-C."""
    from mockyard.contract_events import Outcome

    if result.interrupted:
        sys.exit(130)
    sys.exit({Outcome.PASSED: 0, Outcome.FAILED: 1, Outcome.ERRORED: 2}[result.outcome])


@main.command()
@_WORKSPACE
@_SPEC
@click.option(
    "--upstream", required=True, help="The real deployment, e.g. https://api.example.com/v2."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=9000, show_default=True, type=click.IntRange(1, 65535), help="Port."
)
@click.option(
    "--strict",
    is_flag=True,
    help="Answer a request the spec refuses with the API's own 4xx instead of forwarding it.",
)
@click.option(
    "--allow-mutations",
    is_flag=True,
    help="Also forward what can change state to an upstream that is not a loopback address.",
)
@click.option(
    "--timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds to wait for the upstream before answering the API's 504.",
)
@_REPORT
@_JUNIT
@click.option(
    "--record",
    type=click.Path(file_okay=False),
    help="At exit, write what was seen as a workspace that `mockyard serve` replays.",
)
@click.option(
    "--journal-size",
    default=500,
    show_default=True,
    type=click.IntRange(1),
    help="Exchanges kept by GET /__mockyard/requests.",
)
@click.option(
    "--admin-token",
    envvar="MOCKYARD_ADMIN_TOKEN",
    help="Require this token on /__mockyard/*; needed off loopback.",
)
@click.option("--quiet", "-q", is_flag=True, help="No access-log line per request.")
def proxy(
    workspace: str,
    spec_files: tuple[str, ...],
    upstream: str,
    host: str,
    port: int,
    strict: bool,
    allow_mutations: bool,
    timeout: float,
    report: str | None,
    junit: str | None,
    record: str | None,
    journal_size: int,
    admin_token: str | None,
    quiet: bool,
) -> None:
    """Serve the workspace's APIs by forwarding to --upstream, checking every exchange
    against the spec; at exit, report the violations (and write the --record workspace).

    Exit status: 0 no violation was seen; 1 a violation was; 2 the proxy could not start, or
    the upstream could not be reached or did not answer in time (the API's 502 or 504)."""
    import uvicorn

    from mockyard import proxy as proxy_mod
    from mockyard import reports
    from mockyard.contract_events import Outcome
    from mockyard.proxy_report import ProxyLog
    from mockyard.recording import Recorder

    check_exposure(host, admin_token)
    files = _report_files(report, junit)
    specs = tuple(str(Path(s).resolve()) for s in spec_files)
    ws = served_workspace(ServeConfig(workspace=workspace, specs=specs))
    config = proxy_mod.ProxyConfig(
        upstream=upstream,
        workspace=workspace,
        specs=specs,
        scratch=_scratch_dir(),
        strict=strict,
        allow_mutations=allow_mutations,
        timeout=timeout,
        journal_size=journal_size,
        admin_token=admin_token or "",
    )
    target = proxy_mod.Upstream.of(upstream, allow_mutations=allow_mutations)
    log = ProxyLog.of(ws, target)
    recorder = Recorder(ws, target.base_url) if record else None
    built = proxy_mod.build(config, [log, *([recorder] if recorder else [])], ws, target)
    host = startup.listen_address(host, port)
    base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    writes = (
        "forwarded"
        if target.loopback or allow_mutations
        else "refused (not loopback; --allow-mutations forwards them)"
    )
    click.echo(f"mockyard proxy on {base} -> {target.base_url}")
    click.echo(
        f"  APIs: {', '.join(s.name for s in ws.apis)}; requests the spec refuses: "
        f"{'answered 4xx' if strict else 'forwarded and reported'}; writes: {writes}"
    )
    click.echo(f"  journal: {base}/__mockyard/requests   Ctrl-C to stop and report\n")
    # uvicorn stops on SIGINT or SIGTERM, then raises the signal again with the handlers it
    # found: these let the process go on to write the reports.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: None)
    uvicorn.run(
        built.app,
        host=host,
        port=port,
        log_level="warning",
        log_config=log_config(quiet),
        access_log=False,
        ws="none",
        server_header=False,  # the upstream's Server and Date headers go through as they are
        date_header=False,
    )
    result = log.result()
    for line in reports.TerminalReport().summary(result):
        click.echo(line)
    _write_report_files(files, result)
    if recorder is not None and record is not None:
        summary = recorder.write(record)
        skipped = "; ".join(f"{n} {why}" for why, n in sorted(summary.skipped.items()))
        click.echo(
            f"recorded {summary.recorded} answer(s) and {summary.records} record(s) in "
            f"{summary.directory}" + (f" (not recorded: {skipped})" if skipped else "")
        )
    if result.outcome is Outcome.FAILED:
        sys.exit(1)
    if result.errors:
        click.echo(f"error: {reports.error_line(result)}", err=True)
        sys.exit(2)


def _report_files(
    report: str | None, junit: str | None, write_baseline: str | None = None
) -> list[tuple[str, Callable[[Any], str], str]]:
    """(path, renderer, what it is) for each file a run writes; a report path of an unknown
    kind is refused here, before the run starts."""
    from mockyard import reports

    files = [(path, reports.writer_for(path), "report") for path in (report,) if path]
    files += [(path, reports.junit.render, "report") for path in (junit,) if path]
    files += [(path, _baseline_text, "baseline") for path in (write_baseline,) if path]
    return files


def _write_report_files(files: list[tuple[str, Callable[[Any], str], str]], result: Any) -> None:
    from mockyard import reports

    for path, render, what in files:
        reports.write(path, render(result))
        click.echo(f"{what} written to {path}")


def _report_run(
    events: Any, report: str | None, junit: str | None, write_baseline: str | None = None
) -> Any:
    """Echo the terminal report as a run's events arrive; write the files at the end, also
    after an aborted run (they hold what it gathered, and why it stopped)."""
    from mockyard import reports
    from mockyard.contract_events import Outcome, RunFinished

    files = _report_files(report, junit, write_baseline)
    terminal = reports.TerminalReport()
    result = None
    for event in events:
        for line in terminal.lines(event):
            click.echo(line)
        if isinstance(event, RunFinished):
            result = event.result
    assert result is not None
    _write_report_files(files, result)
    if result.outcome is Outcome.ERRORED:
        click.echo(f"error: {reports.error_line(result)}", err=True)
    return result


@main.command()
@_WORKSPACE
@click.option("--sandbox", "sandbox_url", required=True, help="The sandbox, e.g. a local mockyard.")
@click.option("--real", "real_url", required=True, help="The real deployment to compare it with.")
@click.option("--api", "apis", multiple=True, help="Compare only this workspace API (repeatable).")
@click.option(
    "--spec",
    "specs",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Use this OpenAPI file (3.0 or 3.1) instead of the workspace's specs (repeatable).",
)
@click.option(
    "--token",
    envvar="MOCKYARD_CONTRACT_TOKEN",
    help="Credential for the spec's security schemes, sent to both (env MOCKYARD_CONTRACT_TOKEN)"
    " [default: a mockyard sandbox's catalogue credential].",
)
@click.option(
    "--header",
    "-H",
    "headers",
    multiple=True,
    metavar="'NAME: VALUE'",
    help="Extra header sent to both.",
)
@click.option(
    "--sandbox-header",
    "sandbox_headers",
    multiple=True,
    metavar="'NAME: VALUE'",
    help="Replace a header the requests carry, on the sandbox only (its own credential).",
)
@click.option(
    "--max-examples",
    default=20,
    show_default=True,
    type=click.IntRange(1),
    help="Generated cases per operation and generation mode, after the spec's examples.",
)
@click.option("--seed", type=int, help="Seed for the generated cases [default: random].")
@_JUNIT
@_REPORT
@click.option(
    "--allow-mutations",
    is_flag=True,
    help="Also send what can change state, to both (a comparison is read-only by default).",
)
@_ADMIN_TOKEN
@_wait("both deployments")
@_REQUEST_TIMEOUT
def compare(
    sandbox_url: str,
    real_url: str,
    headers: tuple[str, ...],
    sandbox_headers: tuple[str, ...],
    junit: str | None,
    report: str | None,
    **options: Any,
) -> None:
    """Send the same generated requests to a sandbox and the real deployment; report, per
    operation, where their answers differ (status, body shape, error format and messages,
    the headers that matter). Read-only unless --allow-mutations.

    Exit status: 0 no difference; 1 a difference was found; 2 the comparison could not be made
    (unreachable URL, unknown API, bad spec or option, an operation no request reached); 130
    interrupted.
    """
    from mockyard import compare as compare_mod  # Schemathesis: only this command needs it
    from mockyard.contract import ContractConfig

    config = compare_mod.CompareConfig(
        # The rest of the options are ContractConfig's, by the same names.
        ContractConfig(base_url=sandbox_url, headers=tuple(_header(h) for h in headers), **options),
        real_url,
        tuple(_header(h, "--sandbox-header") for h in sandbox_headers),
    )
    _exit(_report_run(compare_mod.run(config), report, junit))


def _baseline_text(result: Any) -> str:
    from mockyard import contract_baseline

    return contract_baseline.render(result.failures)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _header(raw: str, option: str = "--header") -> tuple[str, str]:
    name, sep, value = raw.partition(":")
    if not sep or not name.strip():
        raise click.BadParameter(f"expected 'NAME: VALUE', got {raw!r}", param_hint=option)
    return name.strip(), value.strip()


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


def _banner(sandbox: Sandbox, host: str, port: int, state: str, guarded: bool) -> None:
    base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    click.echo(f"mockyard sandbox on {base}  (seed {sandbox.state.seed}, state {state})")
    ws = sandbox.workspace
    served = list(operations(sandbox.spec))
    for source in ws.apis:
        ops = [op for op in served if op.api == source.name]
        spec = (
            source.spec.relative_to(ws.root) if source.spec.is_relative_to(ws.root) else source.spec
        )
        click.echo(f"\n  {source.name}  ({spec}, {len(ops)} operations)")
        width = max((len(op.path) for op in ops), default=0)
        answered = {op.operation_id: op.answered_by for op in sandbox.workspace.index}
        for op in ops:
            who = "  (resource)" if answered.get(op.operation_id) == "resource" else ""
            click.echo(f"    {op.method.upper():<7} {op.path:<{width}}  {op.operation_id}{who}")
        credentials = ws.fixtures[source.name].get("credentials") or []
        if credentials:
            click.echo("    tokens:")
        for cred in credentials:
            click.echo(f"      {cred['value']:<28} {cred.get('note', '')}")
    controls = sandbox.controls
    latency = controls.latency
    delay = "none" if latency is None else f"{latency.low:g}-{latency.high:g} ms"
    click.echo(f"\n  docs:     {base}/ui")
    click.echo(
        f"  admin:    {base}/__mockyard/ (health, reset, state, catalogue, requests)"
        + ("  [admin token required]" if guarded else "")
    )
    pages = ", ".join(controls.cors.admin_origins) or "none (--admin-origin to allow one)"
    click.echo(f"            web pages that may use it: {pages}")
    click.echo(
        f"  controls: CORS {controls.cors.describe()}, latency {delay}, "
        f"{len(controls.operations)} operation(s) with their own, "
        f"journal of {controls.journal_size} requests"
    )
    click.echo("  Ctrl-C to stop\n")


if __name__ == "__main__":
    main()
