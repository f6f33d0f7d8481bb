import os

import numpy as np
import pytest

# Rich output width pinned for every test (assertions read JSON, not wrapped text)
os.environ.setdefault("COLUMNS", "120")
os.environ.pop("HPSEARCH_DEBUG", None)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def digits_split():
    from hpsearch.data import dataset, split

    return split.split(dataset.load("digits"), 0.2, 0)


@pytest.fixture(scope="session")
def postgres_url():
    """URL of a throwaway PostgreSQL 15 cluster. Skips, saying why, when none can be started;
    under HPSEARCH_REQUIRE_POSTGRES=1 (set by .ci/run) it fails instead, so CI never skips silently."""
    from pgcluster import Cluster, Unavailable

    try:
        import psycopg  # noqa: F401
        cluster = Cluster()
        url = cluster.start()
    except (Unavailable, ImportError) as e:
        if os.environ.get("HPSEARCH_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required but unavailable: {e}")
        pytest.skip(f"PostgreSQL tests skipped: {e}")
    yield url
    cluster.stop()
