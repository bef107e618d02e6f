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
