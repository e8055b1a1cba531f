"""`pytest -m gpu`: the CUDA kernels under the public ops on CuPy against NumPy, at sizes a
user trains with, and the word2vec trainer on the GPU against the CPU. Skipped without a
CUDA device (tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

from gputrain import backend, kernels
from gputrain.autograd.ops import losses
from gputrain.optim import sparse
from gputrain.w2v.config import Word2VecConfig
from gputrain.w2v.trainer import train

pytestmark = pytest.mark.gpu

RTOL, ATOL = 1e-5, 1e-6


@pytest.fixture
def cp():
    return backend.cupy_module()


def close(got, want, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(backend.to_cpu(got), want, rtol=rtol, atol=atol)


def test_fused_losses_dispatch_to_the_kernels_and_match_numpy(cp):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(512, 129)) * 20).astype(np.float32)
    t = rng.uniform(size=x.shape).astype(np.float32)
    gy = rng.normal(size=x.shape).astype(np.float32)
    close(losses.sigmoid_bce_forward(cp.asarray(x), cp.asarray(t)),
          losses.sigmoid_bce_forward(x, t))
    close(losses.sigmoid_bce_backward(cp.asarray(x), cp.asarray(t), cp.asarray(gy)),
          losses.sigmoid_bce_backward(x, t, gy))
    labels = rng.integers(0, x.shape[1], len(x)).astype(np.int32)
    loss, probs = losses.softmax_xent_forward(cp.asarray(x), cp.asarray(labels))
    want_loss, want_probs = losses.softmax_xent_forward(x, labels)
    close(loss, want_loss)
    close(probs, want_probs)
    g = rng.normal(size=len(x)).astype(np.float32)
    for got, want in zip(losses.softmax_xent_backward(probs, cp.asarray(labels), cp.asarray(g)),
                         losses.softmax_xent_backward(want_probs, labels, g), strict=True):
        close(got, want)


def test_modules_are_compiled_once_per_device(cp):
    x = cp.zeros(10, dtype=np.float32)
    kernels.sigmoid_bce_forward(x, x)
    first = kernels.launch._modules[(x.device.id, "losses.cu")]
    kernels.sigmoid_bce_backward(x, x, x)
    assert kernels.launch._modules[(x.device.id, "losses.cu")] is first


@pytest.mark.parametrize("rule", ["sgd", "adagrad"])
def test_row_updates_with_hot_duplicate_rows_match_numpy(cp, rule):
    rng = np.random.default_rng(1)
    table = rng.normal(size=(5000, 100)).astype(np.float32)
    rows = (rng.zipf(1.3, 20000) % 5000).astype(np.int32)  # a few rows hit thousands of times
    values = rng.normal(size=(len(rows), 100)).astype(np.float32) * 1e-3
    accum = np.full(table.shape, 0.1, np.float32)
    got_t, got_a = cp.array(table), cp.array(accum)
    if rule == "sgd":
        sparse.sgd_rows(table, rows, values, 0.1)
        sparse.sgd_rows(got_t, cp.asarray(rows), cp.asarray(values), 0.1)
    else:
        sparse.adagrad_rows(table, accum, rows, values, 0.1, 1e-8)
        sparse.adagrad_rows(got_t, got_a, cp.asarray(rows), cp.asarray(values), 0.1, 1e-8)
        close(got_a, accum, rtol=1e-4)
    close(got_t, table, rtol=1e-4, atol=1e-5)  # atomics sum thousands of terms in any order


def topic_corpus(path, sentences=3000, seed=0):
    rng = np.random.default_rng(seed)
    topics = [[f"a{i}" for i in range(12)], [f"b{i}" for i in range(12)]]
    lines = []
    for _ in range(sentences):
        words = list(rng.choice(topics[rng.integers(2)], 8)) + ["the", "of"]
        rng.shuffle(words)
        lines.append(" ".join(words))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def same_topic_rate(result):
    v = result.vectors / np.linalg.norm(result.vectors, axis=1, keepdims=True)
    sims = v @ v.T
    np.fill_diagonal(sims, -2)
    topic = [w[0] if w[0] in "ab" and w[1:].isdigit() else None for w in result.words]
    rows = [i for i, t in enumerate(topic) if t]
    return np.mean([topic[int(np.argmax(sims[i]))] == topic[i] for i in rows])


@pytest.mark.parametrize("cbow", [False, True])
def test_w2v_trainer_on_gpu_learns_like_the_cpu(tmp_path, cbow):
    corpus = topic_corpus(tmp_path / "c.txt")
    cfg = dict(vector_size=32, window=3, min_count=2, epochs=3, sample=0.0, seed=3,
               alpha=0.05, cbow=cbow)
    gpu = train(corpus, Word2VecConfig(**cfg), tmp_path / "gpu",
                device=backend.resolve_device("gpu"))
    cpu = train(corpus, Word2VecConfig(**cfg), tmp_path / "cpu")
    assert isinstance(gpu.vectors, np.ndarray) and gpu.vectors.shape == cpu.vectors.shape
    assert gpu.words_trained == cpu.words_trained
    assert same_topic_rate(gpu) > 0.95 and same_topic_rate(cpu) > 0.95
    gpu_loss, cpu_loss = gpu.history[-1, 1], cpu.history[-1, 1]
    assert gpu_loss == pytest.approx(cpu_loss, rel=0.1)
