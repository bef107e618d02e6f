"""`raytrain dashboard RUN_DIR`: TensorBoard (every trial's curves, HParams tab) and, when
the `dashboard` extra is installed and the run has an Optuna journal, optuna-dashboard on
it; on localhost, until Ctrl-C. The Ray dashboard URL is printed by `raytrain tune`."""

from __future__ import annotations

import argparse
import contextlib
import time

from raytrain.cli import add_run_dir
from raytrain.errors import InputError, Problem


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_dir(parser)
    parser.add_argument("--port", type=int, default=None, help="TensorBoard port (6006)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to serve on (127.0.0.1)")
    parser.add_argument(
        "--optuna",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also serve optuna-dashboard on RUN_DIR/optuna.journal "
        "(default: when installed and the journal exists)",
    )
    parser.add_argument(
        "--optuna-port", type=int, default=None, help="optuna-dashboard port (8080)"
    )


def run(args: argparse.Namespace) -> int:
    # Imported here: `raytrain --help` imports every command module (keep it Ray/torch-free).
    from raytrain.layout import SearchRunLayout
    from raytrain.results import load_run
    from raytrain.results import servers as srv
    from raytrain.storage import open_run

    run_dir, copy = open_run(args.run_dir)
    if copy is not None:
        # TensorBoard keeps its event files open, so it serves this download as it is
        print(
            f"serving a copy of {args.run_dir} taken at {time.strftime('%H:%M:%S')} "
            "(run the command again for newer results)",
            flush=True,
        )
    run = load_run(run_dir)
    journal = SearchRunLayout(run.path).journal
    executable = srv.optuna_dashboard_executable()
    if args.optuna and executable is None:
        raise InputError(
            Problem(
                "--optuna", "optuna-dashboard is not installed: pip install 'raytrain[dashboard]'"
            )
        )
    if args.optuna and not journal.is_file():
        raise InputError(Problem("--optuna", f"the run has no Optuna journal ({journal})"))
    with_optuna = args.optuna is not False and executable is not None and journal.is_file()

    taken: set[int] = set()
    tb_port = srv.pick_port(args.host, args.port or 6006, args.port is not None, taken)
    if tb_port is None:
        raise InputError(Problem("--port", f"port {args.port or 6006} on {args.host} is in use"))
    taken.add(tb_port)
    servers = [srv.tensorboard_server(run.path, args.host, tb_port)]
    if with_optuna:
        assert executable is not None
        op_port = srv.pick_port(
            args.host, args.optuna_port or 8080, args.optuna_port is not None, taken
        )
        if op_port is None:
            raise InputError(Problem("--optuna-port", f"port {args.optuna_port} is in use"))
        servers.append(srv.optuna_server(journal, args.host, op_port, executable))

    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C while starting: stop them too
            for server in servers:
                srv.start(server)
            print(f"starting {', '.join(s.name for s in servers)} for {run.path} ...", flush=True)
            for server in servers:
                srv.wait_ready(server)
                print(f"{server.name + ':':18} {server.url}", flush=True)
            if executable is None:
                print("(optuna-dashboard: pip install 'raytrain[dashboard]')", flush=True)
            elif not journal.is_file():
                print("(no optuna.journal in this run: Optuna dashboard not started)", flush=True)
            print("Ctrl-C to stop.", flush=True)
            srv.serve_until_interrupted(servers)
    finally:
        for server in servers:
            srv.stop(server)
    print("stopped.", flush=True)
    return 0
