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
    from hpsearch import data

    return data.split(data.load("digits"), 0.2, 0)
