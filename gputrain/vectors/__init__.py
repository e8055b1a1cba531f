"""Word vectors without training: files, queries, evaluation, projection."""
