import os

import pytest

from gputrain.service.inputs import (
    UnsafePath,
    UploadTooLarge,
    UploadWriter,
    list_inputs,
    resolve_input,
)


@pytest.fixture
def inputs(tmp_path):
    d = tmp_path / "data" / "inputs"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "a.txt").write_text("hello")
    (tmp_path / "secret.txt").write_text("not yours")
    return d


def test_names_inside_the_inputs_dir_resolve(inputs):
    assert resolve_input(inputs, "sub/a.txt") == (inputs / "sub" / "a.txt").resolve()
    os.symlink(inputs / "sub" / "a.txt", inputs / "link.txt")  # a symlink that stays inside
    assert resolve_input(inputs, "link.txt") == (inputs / "sub" / "a.txt").resolve()


@pytest.mark.parametrize("name, reason", [
    ("../secret.txt", "'..'"),
    ("sub/../../secret.txt", "'..'"),
    ("/etc/passwd", "absolute"),
    ("", "empty"),
    ("a\\..\\b", "backslash"),
    (".", "inputs directory itself"),
])
def test_names_leaving_the_inputs_dir_are_refused(inputs, name, reason):
    with pytest.raises(UnsafePath, match=reason):
        resolve_input(inputs, name)


def test_symlinks_leaving_the_inputs_dir_are_refused(inputs, tmp_path):
    os.symlink(tmp_path / "secret.txt", inputs / "escape.txt")
    os.symlink(tmp_path, inputs / "outside")  # a directory symlink in the middle of a path
    with pytest.raises(UnsafePath, match="symlink"):
        resolve_input(inputs, "escape.txt")
    with pytest.raises(UnsafePath, match="symlink"):
        resolve_input(inputs, "outside/secret.txt")


def test_upload_over_the_limit_leaves_nothing_behind(inputs):
    target = inputs / "big.bin"
    writer = UploadWriter(target, max_bytes=10)
    writer.write(b"12345")
    with pytest.raises(UploadTooLarge, match="10 bytes"):
        writer.write(b"678901")
    assert not target.exists()
    assert sorted(p.name for p in inputs.iterdir()) == ["sub"]  # no temp file either


def test_upload_appears_only_when_complete(inputs):
    target = inputs / "new" / "corpus.txt"
    writer = UploadWriter(target, max_bytes=100)
    writer.write(b"the quick ")
    assert not target.exists()
    writer.write(b"brown fox")
    assert writer.commit() == 19
    assert target.read_bytes() == b"the quick brown fox"
    names = [f["name"] for f in list_inputs(inputs)]
    assert names == ["new/corpus.txt", "sub/a.txt"]
