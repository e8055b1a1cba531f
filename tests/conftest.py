import pytest

from gputrain.backend import gpu_available


def pytest_collection_modifyitems(config, items):
    if gpu_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


class CliRunner:
    """Run ``gputrain`` in this process: ``run(*args)`` -> (exit code, stdout, stderr);
    ``fails(*args)`` asserts the one-line ``error: ...`` and exit 2 and returns the line."""

    def __init__(self, capsys):
        self.capsys = capsys

    def run(self, *args) -> tuple[int, str, str]:
        from gputrain.cli import main

        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = e.code
        out, err = self.capsys.readouterr()
        return code, out, err

    def fails(self, *args) -> str:
        code, out, err = self.run(*args)
        assert code == 2, (code, out, err)
        assert "Traceback" not in err + out
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        return lines[0]


@pytest.fixture
def cli(capsys) -> CliRunner:
    return CliRunner(capsys)
