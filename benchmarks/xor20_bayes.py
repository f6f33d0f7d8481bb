"""The best test accuracy any classifier can expect on bench_verdicts' xor20 set (issue 15's recipe benchmark):
the Bayes classifier, from the generator's own model (the class is the sign pattern of two latent factors z; the
first four features are [z0, z1, z0 z1] @ M plus N(0, 0.3^2) noise; the other 16 are pure noise), its posterior
integrated by Monte Carlo over the prior of z. Printed for all 2,400 rows and for bench_recipe's test split of
each seed (the same stratified 25 %), so the recipe's and the peers' test accuracies can be read against it.

    python benchmarks/xor20_bayes.py            # about 30 s
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_recipe  # noqa: E402
import bench_verdicts  # noqa: E402


def main(samples: int = 400_000, seeds: range = range(30)) -> None:
    n = 2400
    rng = np.random.default_rng(11)  # bench_verdicts.xor20's own draws, in its order, to recover M
    z = rng.normal(0, 1, size=(n, 2))
    M = rng.normal(0, 1, size=(3, 4))
    X, y = bench_verdicts.xor20()
    assert (y == (z[:, 0] > 0).astype(np.int64) * 2 + (z[:, 1] > 0)).all()
    x = X[:, :4].astype(np.float64)
    zs = np.random.default_rng(0).normal(size=(samples, 2))
    means = np.concatenate([zs, zs[:, :1] * zs[:, 1:]], axis=1) @ M
    quadrant = (zs[:, 0] > 0).astype(int) * 2 + (zs[:, 1] > 0)
    post = np.zeros((n, 4))
    for lo in range(0, n, 50):
        d = x[lo:lo + 50, None, :] - means[None, :, :]
        ll = -0.5 * (d * d).sum(-1) / 0.3 ** 2
        w = np.exp(ll - ll.max(axis=1, keepdims=True))
        for c in range(4):
            post[lo:lo + 50, c] = w[:, quadrant == c].sum(1)
    right = post.argmax(1) == y
    print(f"xor20 Bayes accuracy, all {n} rows: {100 * right.mean():.1f} %")
    per = []
    for seed in seeds:
        _, test = bench_recipe.stratified_split(y, bench_recipe.TEST_FRACTION, np.random.default_rng([seed, 15]))
        per.append(100 * right[test].mean())
    for lo in range(0, len(per), 10):
        print(f"  bench_recipe test splits, seeds {seeds[lo]}-{seeds[min(lo + 9, len(per) - 1)]}: "
              f"{np.mean(per[lo:lo + 10]):.1f} % (min {min(per[lo:lo + 10]):.1f}, max {max(per[lo:lo + 10]):.1f})")


if __name__ == "__main__":
    main()
