"""The search engine: a plan of trials, the Optuna study that queues and records them, leases for dead workers,
the trial loop, worker processes, and `stage` (run a coarse/fine stage or join one; returns an outcome, prints
nothing)."""
