"""PCA to 2-D for the word plot."""

import numpy as np
import pytest

from gputrain.errors import GputrainError
from gputrain.vectors.keyedvectors import KeyedVectors
from gputrain.vectors.projection import pca_2d, words_with_neighbors


def test_pca_recovers_a_plane_and_is_deterministic():
    rng = np.random.default_rng(0)
    plane = rng.standard_normal((2, 50))
    coeffs = rng.standard_normal((40, 2)) * [3.0, 1.0]
    points = coeffs @ plane + 7.0  # 40 points on an affine plane in 50-D
    coords, explained = pca_2d(points)
    assert explained.sum() == pytest.approx(1.0) and explained[0] > explained[1] > 0
    # distances within the plane are kept exactly by the projection
    d_in = np.linalg.norm(points[:, None] - points[None], axis=-1)
    d_out = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    np.testing.assert_allclose(d_out, d_in, atol=1e-9)
    again, _ = pca_2d(points[::-1])
    np.testing.assert_allclose(again[::-1], coords, atol=1e-9)  # same signs, same picture
    with pytest.raises(GputrainError, match="at least 2"):
        pca_2d(points[:1])


def test_neighbours_are_added_once_after_the_query_words():
    kv = KeyedVectors(["a", "b", "c", "d"], [[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
    words, is_query = words_with_neighbors(kv, ["a", "c", "a"], neighbors=1)
    assert words == ["a", "c", "b", "d"] and is_query == [True, True, False, False]
    with pytest.raises(GputrainError, match="'zz'"):
        words_with_neighbors(kv, ["a", "zz"])
