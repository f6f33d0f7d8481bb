"""The reference implementation: CS231n layers (forward beside backward), losses, update rules, schedules and the
MLP. Readable and checked against numeric gradients and hand-written formulas; the fast path must agree with it."""
