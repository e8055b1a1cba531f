"""Training events (JSON lines, a torn last line ignored) and the two-stage stop."""

from __future__ import annotations

import os
import signal

import pytest

from gputrain.events import EventLog, read_events
from gputrain.stopping import GracefulStop


def test_events_append_as_json_lines_and_a_torn_line_is_skipped(tmp_path):
    path = tmp_path / "events.jsonl"
    with EventLog(path) as log:
        log.emit("start", rows=3)
    with EventLog(path) as log:  # a resumed run appends
        log.emit("done", loss=0.5)
    with open(path, "a") as f:
        f.write('{"event": "progr')  # a writer killed mid-line
    events = read_events(path)
    assert [e["event"] for e in events] == ["start", "done"]
    assert events[0]["rows"] == 3 and events[1]["loss"] == 0.5 and "time" in events[0]
    assert read_events(tmp_path / "absent.jsonl") == []
    with EventLog(None) as log:  # no --events: nothing written, nothing fails
        log.emit("start")


def test_first_signal_requests_a_stop_second_exits_and_handlers_are_restored():
    before = signal.getsignal(signal.SIGTERM)
    with GracefulStop() as stop:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested  # the trainer checkpoints at its next safe point
        with pytest.raises(SystemExit) as info:
            os.kill(os.getpid(), signal.SIGTERM)
        assert info.value.code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before


def test_parent_death_signals_only_ask_however_many_arrive_and_ctrl_c_still_escalates():
    from gputrain.stopping import PARENT_DIED_SIGNAL

    with GracefulStop() as stop:
        for _ in range(5):  # the kernel sends one per exiting thread of the dead server
            os.kill(os.getpid(), PARENT_DIED_SIGNAL)
        assert stop.requested  # no SystemExit: the trainer still writes its checkpoint
        os.kill(os.getpid(), signal.SIGINT)  # a first Ctrl-C after it only asks again
        with pytest.raises(SystemExit) as info:
            os.kill(os.getpid(), signal.SIGINT)  # a real second Ctrl-C stops at once
        assert info.value.code == 128 + signal.SIGINT
