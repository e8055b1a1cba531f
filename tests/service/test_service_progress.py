import json

from gputrain.events import EventLog
from gputrain.service.progress import EventTail, LiveJob, resume_point


def test_tail_reads_only_complete_new_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    tail = EventTail(path)
    assert tail.read_new() == []  # not there yet
    with open(path, "w") as f:
        f.write(json.dumps({"event": "start"}) + "\n" + '{"event": "progr')
    assert [e["event"] for e in tail.read_new()] == ["start"]
    with open(path, "a") as f:
        f.write('ess", "progress": 0.5}\n')
    assert tail.read_new() == [{"event": "progress", "progress": 0.5}]
    assert tail.read_new() == []


def test_live_job_counts_new_words_and_keeps_latest_metrics():
    live = LiveJob("w2v")
    n = live.apply([
        {"event": "start", "time": 1.0, "words": 0},
        {"event": "progress", "time": 2.0, "progress": 0.25, "words": 1000,
         "words_per_second": 500.0, "loss": 3.5, "alpha": 0.02, "epoch": 1},
    ])
    assert n == 1000 and live.progress == 0.25
    assert live.metrics["words_per_second"] == 500.0 and live.metrics["loss"] == 3.5
    n = live.apply([{"event": "progress", "progress": 0.5, "words": 2500, "loss": float("nan")}])
    assert n == 1500 and live.metrics["loss"] == 3.5  # NaN is not a metric value
    assert live.apply([{"event": "done", "words": 4000}]) == 1500 and live.progress == 1.0


def test_resume_point_is_the_last_checkpoint(tmp_path):
    path = tmp_path / "events.jsonl"
    with EventLog(path) as log:
        log.emit("start", words=0)
        log.emit("progress", progress=0.3, words=300)
        log.emit("checkpoint", words=300)
        log.emit("progress", progress=0.4, words=400)  # lost in the crash
    assert resume_point(path) == 300
    live = LiveJob("w2v", words_seen=resume_point(path))
    assert live.apply([{"event": "progress", "progress": 0.5, "words": 500}]) == 200


def test_a_nan_loss_marks_the_run_as_diverged():
    live = LiveJob("mlp")
    live.apply([{"event": "progress", "progress": 0.5, "epoch": 3, "loss": 0.7}])
    assert live.diverged is None
    live.apply([{"event": "progress", "progress": 0.75, "epoch": 4, "loss": float("nan")}])
    assert live.diverged == "training diverged: loss is nan at 75.0% (lower the learning rate)"
    assert live.metrics["loss"] == 0.7
