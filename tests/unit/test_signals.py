"""SIGTERM handled as Ctrl-C (`raytrain.signals`), in this process, without Ray."""

import os
import signal
import time

import pytest

from raytrain.signals import sigterm_as_sigint


def test_sigterm_inside_becomes_keyboard_interrupt_and_handler_is_restored() -> None:
    # Ctrl-C's own handler may have been replaced by an earlier test (Ray, Lightning):
    # use Python's default for this test, so a forwarded SIGINT raises KeyboardInterrupt.
    sigint_before = signal.signal(signal.SIGINT, signal.default_int_handler)
    before = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(KeyboardInterrupt), sigterm_as_sigint():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the signal arrives before this ends
    finally:
        signal.signal(signal.SIGINT, sigint_before)
    assert signal.getsignal(signal.SIGTERM) is before


def test_sigterm_stops_a_background_job_whose_sigint_is_ignored() -> None:
    """`cmd &` in a script: SIGINT arrives ignored, so re-sending it would do nothing."""
    sigint_before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with pytest.raises(KeyboardInterrupt), sigterm_as_sigint():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
    finally:
        signal.signal(signal.SIGINT, sigint_before)


def test_sigterm_goes_to_the_current_ctrl_c_handler() -> None:
    """While Tune runs, its SIGINT handler (a graceful stop) is the one to call."""
    calls: list[int] = []
    sigint_before = signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    try:
        with sigterm_as_sigint():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.5)
    finally:
        signal.signal(signal.SIGINT, sigint_before)
    assert calls == [signal.SIGINT]


def test_every_command_stops_on_sigterm_in_a_background_job(tmp_path) -> None:
    """`raytrain validate` stands in for any command: the CLI handles SIGTERM from its
    first line, also with SIGINT ignored (exit 130, no traceback)."""
    import subprocess
    import sys

    code = (
        "import signal, time, sys\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "import raytrain.cli as cli\n"
        "import raytrain.cli.validate as v\n"
        "def slow(args):\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(30)\n"
        "v.run = slow\n"
        "sys.exit(cli.main(['validate', 'x.yaml']))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert time.monotonic() - started < 15  # at once; slack for a loaded CI machine
