"""The NumPy MLP library: layers, losses, update rules, schedules and the model."""
