"""The vector cache behind /models/{id}/...: loads once, and a failed load leaves no trace."""

import numpy as np
import pytest

from gputrain.errors import GputrainError
from gputrain.service.models import ModelCache
from gputrain.vectors.keyedvectors import KeyedVectors


def test_a_missing_file_is_a_user_error_and_a_later_load_works(tmp_path):
    cache = ModelCache(size=2)
    path = tmp_path / "vectors.bin"
    with pytest.raises(GputrainError, match="not found"):
        cache.get("j1", path)
    assert cache._loading == {} and cache.loads == 0
    KeyedVectors(["a", "b"], np.eye(2, dtype=np.float32)).save(path)
    kv = cache.get("j1", path)
    assert cache.get("j1", path) is kv and cache.loads == 1 and kv.index_of("b") == 1
