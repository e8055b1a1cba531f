"""The device engine's word2vec kernels (kernels/w2v_device.cu)."""

from __future__ import annotations

import numpy

from gputrain.errors import GputrainError
from gputrain.kernels import launch
from gputrain.kernels.launch import check, function, grid_for, same_shape, xp_of


def w2v_device_shared_bytes(threads: int, sub: int, window: int, negative: int, dim: int,
                            max_chunk: int, hs_len: int = 0, ring: bool = False) -> int:
    """Dynamic shared memory of one ``w2v_device_train`` block (the kernel's layout;
    ``ring``: the RING variant's, two more arrays of input rows)."""
    k1 = (negative + 1 if negative else 0) + hs_len  # output columns per centre
    ints = 3 * max_chunk + threads + 1 + sub * k1
    ld = dim | 1  # rows padded to an odd stride (no bank conflicts)
    rows = (3 if ring else 1) * (sub + 2 * window) * ld  # ring: + pending updates, gradients
    floats = sub * k1 + sub + rows + sub * k1 * ld + sub * 2 * window * k1 + sub * ld
    return 4 * (ints + floats)


def w2v_device_train(w_in, w_out, ids, ids_base: int, starts, first_chunk: int,
                     n_chunks: int, keep_prob, table, key: int, words_before: int,
                     total_words: int, alpha: float, min_alpha: float, window: int,
                     negative: int, sub: int, max_chunk: int, cbow: bool, totals,
                     grid: int, threads: int, w_hs=None, points=None, psigns=None,
                     ring: bool = False) -> None:
    """Train chunks ``first_chunk .. + n_chunks`` (chunk j = global positions
    ``[starts[j], starts[j+1])``, at most ``max_chunk`` long) in one launch of ``grid``
    blocks; ``ids[i]`` is the token at position ``ids_base + i``. Negative sampling with
    ``negative`` > 0 (``w_out``); hierarchical softmax with ``w_hs`` and the Huffman paths
    ``points`` (int32 (V, L), -1 padded) and ``psigns`` (float32 (V, L)). Adds the loss and
    pair count to ``totals`` (float64 (2,)) on the device: nothing is read back here. See
    kernels/w2v_device.cu and its twin gputrain/w2v/device_twin.py. ``ring``: launch the
    RING variant (``w2v_device_train_ring``: input rows read and written once per lifetime
    through a shared-memory ring; same numbers for one block; more shared memory).
    NONDETERMINISTIC with grid > 1: Hogwild atomicAdd updates across blocks."""
    op = "w2v_device_train"
    check(op, "w_in", w_in, numpy.float32, ndim=2)
    same_shape(op, "w_out", check(op, "w_out", w_out, numpy.float32, ndim=2), w_in.shape)
    check(op, "ids", ids, numpy.int32, ndim=1)
    check(op, "starts", starts, numpy.int64, ndim=1)
    same_shape(op, "keep_prob", check(op, "keep_prob", keep_prob, numpy.float32, ndim=1),
                w_in.shape[:1])
    check(op, "table", table, numpy.int32, ndim=1)
    same_shape(op, "totals", check(op, "totals", totals, numpy.float64, ndim=1), (2,))
    hs_len = 0
    if w_hs is not None:  # the path arrays must cover every word: the kernel indexes by id
        same_shape(op, "w_hs", check(op, "w_hs", w_hs, numpy.float32, ndim=2), w_in.shape)
        check(op, "points", points, numpy.int32, ndim=2)
        same_shape(op, "points", points, (w_in.shape[0], points.shape[1]))
        same_shape(op, "psigns", check(op, "psigns", psigns, numpy.float32, ndim=2),
                    points.shape)
        hs_len = points.shape[1]
    else:  # not read by the kernel without hierarchical softmax (hs_len 0)
        w_hs, points, psigns = w_out, table, keep_prob
    if not 0 <= first_chunk <= first_chunk + n_chunks < len(starts):
        raise GputrainError(f"kernels.{op}: chunks {first_chunk}..+{n_chunks} are not in"
                            f" starts ({len(starts) - 1} chunks)")
    if (not 1 <= sub <= threads + 1 or threads > max_chunk or not 0 <= negative <= 100
            or negative + hs_len == 0):
        raise GputrainError(f"kernels.{op}: need 1 <= sub <= threads + 1, threads <= max_chunk,"
                            f" 0 <= negative <= 100 and an output layer, got sub={sub},"
                            f" threads={threads}, max_chunk={max_chunk}, negative={negative},"
                            f" hs paths of {hs_len}")
    if n_chunks == 0:
        return
    shared = w2v_device_shared_bytes(threads, sub, window, negative, w_in.shape[1], max_chunk,
                                     hs_len, ring)
    fn = function("w2v_device.cu", "w2v_device_train_ring" if ring else op, w_in)
    if shared > launch.SHARED_DEFAULT:
        try:
            fn.max_dynamic_shared_size_bytes = shared
        except Exception as e:  # the device has less than that
            raise GputrainError(f"kernels.{op}: {shared} bytes of shared memory per block is"
                                f" more than this GPU has ({e})") from e
    fn((grid,), (threads,),
       (w_in, w_out, w_hs, ids, numpy.int64(ids_base), starts, numpy.int32(first_chunk),
        numpy.int32(n_chunks), keep_prob, table, numpy.uint32(len(table)), points, psigns,
        numpy.int32(hs_len), numpy.uint64(key),
        numpy.int64(words_before), numpy.float64(total_words), numpy.float64(alpha),
        numpy.float64(min_alpha), numpy.int32(window), numpy.int32(negative),
        numpy.int32(w_in.shape[1]), numpy.int32(sub), numpy.int32(max_chunk),
        numpy.int32(1 if cbow else 0), totals),
       shared_mem=shared)


def w2v_device_draws(ids, base: int, keep_prob, table, key: int, window: int, negative: int):
    """The device engine's draws for positions ``base .. base + len(ids)``: keep flags,
    windows and negatives ``(n, negative)``, int32 (for tests against the twin)."""
    op = "w2v_device_draws"
    check(op, "ids", ids, numpy.int32, ndim=1)
    check(op, "keep_prob", keep_prob, numpy.float32, ndim=1)
    check(op, "table", table, numpy.int32, ndim=1)
    xp = xp_of(ids)
    n = len(ids)
    keep, reach = xp.zeros(n, dtype=numpy.int32), xp.zeros(n, dtype=numpy.int32)
    negs = xp.zeros((n, negative), dtype=numpy.int32)
    if n:
        function("w2v_device.cu", op, ids)(
            (grid_for(n),), (launch.BLOCK,),
            (ids, numpy.int64(base), numpy.int32(n), keep_prob, table, numpy.uint32(len(table)),
             numpy.uint64(key), numpy.int32(window), numpy.int32(negative), keep, reach, negs))
    return keep, reach, negs
