"""Multi-layer perceptrons on tables: read (``data``), prepare (``preprocess``,
``prepared``), build (``model``), train (``train.train_mlp``), score and predict
(``evaluate``); model directories are described in ``checkpoint``."""
