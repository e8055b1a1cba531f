"""word2vec training: vocabulary, encoded corpus, skip-gram / CBOW steps, the trainer.

The vectors it produces, and everything that reads them, live in :mod:`gputrain.vectors`."""
