"""word2vec: training (skip-gram / CBOW with negative sampling), vectors, queries, evaluation."""
