"""What `gputrain jobs` users see: wait's options, timeouts and restarts; one-line job errors."""

import sys

import pytest

from gputrain.cli import main
from gputrain.service.client import ServiceClient


def run(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
        sys.exit(0)
    return info.value.code, capsys.readouterr()


def test_wait_gives_up_after_timeout_and_refuses_a_negative_poll(monkeypatch, capsys):
    looks = []
    monkeypatch.setattr(ServiceClient, "show", lambda self, job_id: looks.append(job_id) or {
        "id": job_id, "kind": "w2v", "state": "running", "progress": 0.5, "metrics": {}})
    code, out = run(["jobs", "wait", "j1", "--poll", "0.05", "--timeout", "0.2"], capsys)
    assert code == 2 and out.err.strip() == "error: job j1 still running after 0.2 s"
    assert 2 <= len(looks) <= 10
    code, out = run(["jobs", "wait", "j1", "--poll", "-1"], capsys)
    assert code == 2 and "--poll" in out.err and "Traceback" not in out.err


def test_wait_rides_out_a_server_restart_but_not_a_server_that_never_answered(monkeypatch,
                                                                              capsys):
    from gputrain.service.client import ServerUnreachable

    answers = [{"state": "running"}, ServerUnreachable("down"), ServerUnreachable("down"),
               {"state": "succeeded"}]

    def show(self, job_id):
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return {"id": job_id, "kind": "w2v", "progress": 1.0, "metrics": {}, **answer}

    monkeypatch.setattr(ServiceClient, "show", show)
    code, out = run(["jobs", "wait", "j1", "--poll", "0.05"], capsys)
    assert code == 0 and "succeeded" in out.out and not answers
    monkeypatch.undo()
    code, out = run(["jobs", "wait", "j1", "--server", "http://127.0.0.1:9"], capsys)
    assert code == 2 and out.err.startswith("error: cannot reach the gputrain server")


def test_a_trainer_killed_by_any_signal_gets_a_one_line_error(tmp_path):
    from gputrain.service.runner import error_message

    log = tmp_path / "trainer.log"
    log.write_text("progress 10%\r progress 20%\n")
    assert error_message(log, -9) == "trainer was killed by SIGKILL: progress 20%"
    assert error_message(log, -40) == "trainer was killed by signal 40: progress 20%"
    log.write_text("warning: x\nerror: training diverged\n")
    assert error_message(log, 2) == "training diverged"
