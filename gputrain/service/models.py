"""Finished word2vec jobs' vectors, loaded once and kept (a small LRU) for queries."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from gputrain.service.constants import MODEL_CACHE_SIZE


class ModelCache:
    def __init__(self, size: int = MODEL_CACHE_SIZE):
        self.size = size
        self._lock = threading.Lock()
        self._models: OrderedDict[str, object] = OrderedDict()
        self._loading: dict[str, threading.Lock] = {}
        self.loads = 0  # how many times a file was read (the cache's misses)

    def forget(self, job_id: str) -> None:
        with self._lock:
            self._models.pop(job_id, None)

    def get(self, job_id: str, path: Path):
        """The job's KeyedVectors, read from ``path`` the first time only."""
        with self._lock:
            if job_id in self._models:
                self._models.move_to_end(job_id)
                return self._models[job_id]
            loading = self._loading.setdefault(job_id, threading.Lock())
        with loading:  # one reader per job; concurrent queries wait for it
            with self._lock:
                if job_id in self._models:
                    return self._models[job_id]
            from gputrain.vectors.keyedvectors import KeyedVectors

            try:
                kv = KeyedVectors.load(path)
            finally:
                with self._lock:
                    self._loading.pop(job_id, None)
            with self._lock:
                self.loads += 1
                self._models[job_id] = kv
                while len(self._models) > self.size:
                    self._models.popitem(last=False)
            return kv
