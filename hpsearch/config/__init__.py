"""Frozen records of what to train and search: TrainConfig, the search Space, DataSpec, the study's records,
the runtime options. Dicts (YAML, JSON, Optuna params) are turned into these at the edge."""
