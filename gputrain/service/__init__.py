"""The training service: job store, workers, HTTP API, metrics (``gputrain serve``)."""
