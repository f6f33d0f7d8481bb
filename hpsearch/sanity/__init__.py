"""The pre-flight gate: its checks (model_checks, training_checks), their records (types), the gradient check
(gradcheck) and the runner (gate)."""
