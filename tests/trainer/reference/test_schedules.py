import pytest

from hpsearch.errors import ConfigError
from hpsearch.trainer.reference.schedules import lr_at


def test_constant():
    assert [lr_at(e, 0.1, "constant", 0.5, 2) for e in range(3)] == [0.1, 0.1, 0.1]


def test_step_decay():
    assert [lr_at(e, 1.0, "step", 0.5, 2) for e in range(5)] == [1.0, 1.0, 0.5, 0.5, 0.25]


def test_exponential_decay():
    assert [lr_at(e, 1.0, "exp", 0.9, 1) for e in range(3)] == pytest.approx([1.0, 0.9, 0.81])


def test_unknown_schedule():
    with pytest.raises(ConfigError):
        lr_at(0, 1.0, "cosine", 0.9, 1)
