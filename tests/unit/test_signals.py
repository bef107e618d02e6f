"""SIGTERM handled as Ctrl-C (`raytrain.signals`), in this process, without Ray."""

import os
import signal
import time

import pytest

from raytrain.signals import sigterm_as_sigint


def test_sigterm_inside_becomes_keyboard_interrupt_and_handler_is_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), sigterm_as_sigint():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)  # the signal arrives before this ends
    assert signal.getsignal(signal.SIGTERM) is before
