"""Hierarchical softmax: word2vec.c's Huffman tree over the vocabulary, as padded paths.

A vocabulary of ``V`` words gets a binary Huffman tree built from the counts (word2vec.c's
``CreateBinaryTree``: frequent words get short codes). Its ``V - 1`` inner nodes each own
one row of the HS output table (word2vec.c's ``syn1``, here ``w_hs``; the root is row
``V - 2``). Word ``w`` is predicted by the ``len(w)`` binary decisions on the way from the
root to its leaf: at inner node ``n`` with code bit ``c`` the term is the sigmoid BCE of
``h . w_hs[n]`` with label ``1 - c`` (word2vec.c: ``g = (1 - code - f) * alpha``).

That is the negative-sampling step with other rows and labels: :class:`HuffmanPaths`
holds, per word, its inner nodes as a ``-1``-padded row (the ``targets`` of
:mod:`gputrain.w2v.step`) and a ``signs`` row (+1 for code 0, -1 for code 1, 0 as
padding), which the step functions take in place of "column 0 positive, the rest
negative".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_NODE_REPEATS = 8.0  # centres per minibatch whose summed update an inner node takes in full


@dataclass(frozen=True)
class HuffmanPaths:
    points: np.ndarray  # int32 (V, L): inner nodes from the root, -1 padded
    signs: np.ndarray  # float32 (V, L): +1 for code bit 0, -1 for 1, 0 as padding
    lengths: np.ndarray  # int32 (V,): code length of each word

    def batch(self, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ``(targets, signs)`` of centre words ``centres`` (int32, -1: none), trimmed
        to the longest code among them."""
        valid = centres >= 0
        rows = np.where(valid, centres, 0)
        width = max(1, int(self.lengths[rows[valid]].max())) if valid.any() else 1
        points = self.points[rows, :width]
        signs = self.signs[rows, :width]
        if not valid.all():
            points = np.where(valid[:, None], points, -1).astype(np.int32)
            signs = np.where(valid[:, None], signs, 0).astype(np.float32)
        return points, signs


def node_weights(points: np.ndarray) -> np.ndarray:
    """float32 of ``points``' shape: ``min(1, MAX_NODE_REPEATS / m)`` for an inner node that
    appears ``m`` times in ``points`` (one launch's paths), 0 for padding (-1).

    The device engine scales each inner node's summed update by this: the root is on every
    path, so without the cap one launch of 512 centres would move it by 512 stale updates
    at once (word2vec.c's sequential loop, as the CPU engine's, sees each update before the
    next)."""
    used = points >= 0
    repeats = np.bincount(points[used], minlength=1)
    weight = np.zeros(points.shape, dtype=np.float32)
    weight[used] = np.minimum(1.0, MAX_NODE_REPEATS / repeats[points[used]])
    return weight


def huffman_paths(counts: np.ndarray) -> HuffmanPaths:
    """The Huffman paths of a vocabulary with these counts (any order; ties broken as
    word2vec.c does on counts sorted by decreasing count, stable)."""
    counts = np.asarray(counts, dtype=np.int64)
    n = len(counts)
    if n < 2:  # one word: a single decision at the root, always "this word"
        return HuffmanPaths(np.zeros((n, 1), np.int32), np.ones((n, 1), np.float32),
                            np.ones(n, np.int32))
    order = np.argsort(-counts, kind="stable")  # word2vec.c's tree needs sorted counts
    count = counts[order].tolist() + [1 << 62] * (n - 1)  # Python ints: a fast loop
    parent = [0] * (2 * n - 1)
    binary = [0] * (2 * n - 1)
    pos1, pos2 = n - 1, n
    for a in range(n - 1):  # two queues: leaves (ascending from the end) and inner nodes
        if pos1 >= 0 and count[pos1] < count[pos2]:
            first, pos1 = pos1, pos1 - 1
        else:
            first, pos2 = pos2, pos2 + 1
        if pos1 >= 0 and count[pos1] < count[pos2]:
            second, pos1 = pos1, pos1 - 1
        else:
            second, pos2 = pos2, pos2 + 1
        count[n + a] = count[first] + count[second]
        parent[first] = parent[second] = n + a
        binary[second] = 1
    parent = np.asarray(parent, dtype=np.int64)
    binary = np.asarray(binary, dtype=np.int8)
    root = 2 * n - 2
    # walk all leaves up at once: leaf-to-root order, then reversed per word
    node = np.arange(n, dtype=np.int64)
    up_points, up_codes = [], []
    alive = np.ones(n, dtype=bool)
    while alive.any():
        up_codes.append(np.where(alive, binary[node], 0))
        nxt = parent[node]
        up_points.append(np.where(alive, nxt - n, -1))
        alive &= nxt != root
        node = np.where(alive, nxt, node)
    lengths = (np.stack(up_points, axis=1) >= 0).sum(axis=1)
    depth = len(up_points)
    points_up = np.stack(up_points, axis=1)  # (n, depth): parent of leaf first
    codes_up = np.stack(up_codes, axis=1)
    cols = np.arange(depth)[None, :]
    src = lengths[:, None] - 1 - cols  # root first: column j is step lengths-1-j upwards
    ok = src >= 0
    src = np.where(ok, src, 0)
    points = np.where(ok, np.take_along_axis(points_up, src, axis=1), -1)
    codes = np.where(ok, np.take_along_axis(codes_up, src, axis=1), 0)
    signs = np.where(ok, 1.0 - 2.0 * codes, 0.0)
    out_points = np.empty_like(points)
    out_signs = np.empty_like(signs)
    out_lengths = np.empty_like(lengths)
    out_points[order], out_signs[order], out_lengths[order] = points, signs, lengths
    return HuffmanPaths(out_points.astype(np.int32), out_signs.astype(np.float32),
                        out_lengths.astype(np.int32))
