import pytest

from gputrain.service import specs
from gputrain.service.states import JobKind


@pytest.fixture
def inputs(tmp_path):
    d = tmp_path / "inputs"
    d.mkdir()
    (d / "t.csv").write_text("a,label\n1,0\n2,1\n")
    return d


def mlp_argv(params, inputs):
    return specs.params_argv(specs.trainer_command(JobKind.MLP), params, inputs,
                             specs.TRAINERS[JobKind.MLP].input_options)


def test_params_become_the_cli_options(inputs):
    argv = mlp_argv({"epochs": 2, "batch_size": 16, "hidden": "8,4", "quiet": True,
                     "lr": 0.01}, inputs)
    assert argv == ["--epochs=2", "--batch-size=16", "--hidden=8,4", "--quiet", "--lr=0.01"]
    assert mlp_argv({"quiet": False}, inputs) == []  # a plain flag left off


def test_file_options_must_name_inputs(inputs):
    argv = mlp_argv({"test": "t.csv"}, inputs)
    assert argv == [f"--test={(inputs / 't.csv').resolve()}"]
    with pytest.raises(specs.SpecPathError) as e:
        mlp_argv({"test": "../../etc/passwd"}, inputs)
    assert e.value.field == "params.test"


@pytest.mark.parametrize("params, field, reason", [
    ({"bogus": 1}, "params.bogus", "no such option: --bogus"),
    ({"device": "gpu"}, "params.device", "set by the service"),
    ({"events": "e.jsonl"}, "params.events", "set by the service"),
    ({"resume": "x"}, "params.resume", "set by the service"),
    ({"output": "/tmp/x"}, "params.output", "set by the service"),
    ({"epochs": True}, "params.epochs", "string or a number"),
    ({"epochs": [1, 2]}, "params.epochs", "one value"),
    ({"quiet": "yes"}, "params.quiet", "true or false"),
])
def test_bad_params_name_the_field(inputs, params, field, reason):
    with pytest.raises(specs.SpecError, match=reason) as e:
        mlp_argv(params, inputs)
    assert e.value.field == field


def test_values_that_look_like_options_stay_values(inputs, tmp_path):
    argv = mlp_argv({"label": "--events=/etc/x"}, inputs)
    assert argv == ["--label=--events=/etc/x"]
    with pytest.raises(specs.SpecError, match="no label column '-o'") as e:  # a value
        specs.validate(JobKind.MLP, "t.csv", {"label": "-o"}, inputs, tmp_path / "j")
    assert e.value.field == "params.label"


def test_validate_parses_with_the_real_command(inputs, tmp_path):
    scratch = tmp_path / "jobs" / "check"
    specs.validate(JobKind.MLP, "t.csv", {"label": "label", "epochs": 1}, inputs, scratch)
    with pytest.raises(specs.SpecError, match="not a valid integer") as e:
        specs.validate(JobKind.MLP, "t.csv", {"epochs": "many"}, inputs, scratch)
    assert e.value.field == "params.epochs"
    with pytest.raises(specs.SpecError, match="no such file") as e:
        specs.validate(JobKind.MLP, "missing.csv", {}, inputs, scratch)
    assert e.value.field == "input"
    with pytest.raises(specs.SpecPathError):
        specs.validate(JobKind.MLP, "/etc/passwd", {}, inputs, scratch)


def test_job_argv_sets_outputs_and_resumes_from_a_checkpoint(inputs, tmp_path):
    job_dir = tmp_path / "jobs" / "abc"
    events = job_dir / "events.jsonl"
    argv, resuming = specs.job_argv(JobKind.MLP, "t.csv", {"label": "label"}, job_dir,
                                    inputs, "gpu:0", events)
    assert argv[:3] == ["mlp", "train", str((inputs / "t.csv").resolve())]
    joined = " ".join(argv)
    assert f"-o {job_dir / 'model'}" in joined and f"--events {events}" in joined
    assert "--device gpu:0" in joined and "--quiet" in argv and not resuming
    (job_dir / "model").mkdir(parents=True)
    (job_dir / "model" / "checkpoint.npz").write_bytes(b"")
    argv, resuming = specs.job_argv(JobKind.MLP, "t.csv", {"label": "label"}, job_dir,
                                    inputs, "cpu", events)
    assert resuming and argv[-2:] == ["--resume", str(job_dir / "model")]


def test_w2v_jobs_checkpoint_by_default_and_resume_with_the_flag(inputs, tmp_path):
    (inputs / "c.txt").write_text("a b c\n")
    job_dir = tmp_path / "jobs" / "w"
    argv, resuming = specs.job_argv(JobKind.W2V, "c.txt", {"dim": 8}, job_dir, inputs, "cpu",
                                    job_dir / "e.jsonl")
    joined = " ".join(argv)
    assert f"-o {job_dir / 'vectors.bin'}" in joined and "--dim=8" in joined
    assert "--checkpoint-every=20000000" in joined and "--quiet" in argv
    assert "--resume" not in argv and not resuming
    argv, _ = specs.job_argv(JobKind.W2V, "c.txt", {"checkpoint_every": 500, "cbow": True},
                             job_dir, inputs, "cpu", job_dir / "e.jsonl")
    assert "--checkpoint-every=500" in argv and "--cbow" in argv
    with pytest.raises(specs.SpecError, match="set by the service"):
        specs.validate(JobKind.W2V, "c.txt", {"checkpoint_dir": "/tmp/x"}, inputs, job_dir)
    (job_dir / "vectors.bin.ckpt").mkdir(parents=True)
    (job_dir / "vectors.bin.ckpt" / "checkpoint.npz").write_bytes(b"")
    argv, resuming = specs.job_argv(JobKind.W2V, "c.txt", {}, job_dir, inputs, "cpu",
                                    job_dir / "e.jsonl")
    assert resuming and argv[-1] == "--resume"


@pytest.mark.parametrize("params, field, reason", [
    ({"epochs": 0}, "params.epochs", "--epochs must be in 1..10000"),
    ({"vectors": "sum", "dim": 0}, "params.dim", "--dim must be"),
    ({"batch_size": 0}, "params.batch_size", "--batch-size must be"),
    ({"checkpoint_every": -1}, "params.checkpoint_every", "--checkpoint-every"),
    ({"alpha": 0.00001}, "params.min_alpha", "--min-alpha must be"),  # the default is wrong
])
def test_w2v_values_out_of_range_are_refused_before_queueing(inputs, tmp_path, params, field,
                                                              reason):
    (inputs / "c.txt").write_text("a b c\n")
    specs.validate(JobKind.W2V, "c.txt", {"epochs": 1, "dim": 8}, inputs, tmp_path / "j")
    with pytest.raises(specs.SpecError, match=reason) as e:
        specs.validate(JobKind.W2V, "c.txt", params, inputs, tmp_path / "j")
    assert e.value.field == field


@pytest.mark.parametrize("input_name, params, field, reason", [
    ("t.csv", {}, "params.label", "--label: give the label column's name"),
    ("t.csv", {"label": "target"}, "params.label", "no label column 'target'"),
    ("t.csv", {"label": "label", "features": "a,z"}, "params.features", "no feature column 'z'"),
    ("t.csv", {"label": "label", "optimizer": "adamm"}, "params.optimizer", "use one of"),
    ("t.csv", {"label": "label", "activation": "gelu2"}, "params.activation", "use one of"),
    ("t.csv", {"label": "label", "epochs": 0}, "params.epochs", "must be >= 1"),
    ("t.csv", {"label": "label", "lr": -0.1}, "params.lr", "must be > 0"),
    ("t.csv", {"label": "label", "dropout": 1.0}, "params.dropout", r"must be in \[0.0, 1.0\)"),
    ("t.csv", {"label": "label", "hidden": "8,x"}, "params.hidden", "expected sizes"),
    ("t.csv", {"label": "label", "test": "c.txt"}, "params.test", "unknown data format"),
    ("c.txt", {"label": "label"}, "input", "unknown data format '.txt'"),
])
def test_mlp_specs_are_checked_before_queueing_naming_the_field(
        inputs, tmp_path, input_name, params, field, reason):
    (inputs / "c.txt").write_text("a word2vec corpus, not a table\n")
    specs.validate(JobKind.MLP, "t.csv", {"label": "label"}, inputs, tmp_path / "j")
    with pytest.raises(specs.SpecError, match=reason) as e:
        specs.validate(JobKind.MLP, input_name, params, inputs, tmp_path / "j")
    assert e.value.field == field
