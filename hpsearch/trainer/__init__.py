"""The trainer: reference/ holds the readable CS231n maths (the oracle the tests and the gradient check read),
fast/ the same maths fused for speed; fit.py trains one configuration, diagnosis.py reads its curves."""
