"""gputrain: word2vec and MLP training on NVIDIA GPUs (CuPy) with a NumPy fallback."""

__version__ = "0.1.0"
