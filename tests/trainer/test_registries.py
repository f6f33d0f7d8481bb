"""The names config/train.py declares (what TrainConfig and the CLI accept) are exactly what the trainer's
registries implement: no name that validates but cannot train, no implementation that cannot be chosen."""

import math

import pytest

from hpsearch.config import train
from hpsearch.errors import ConfigError
from hpsearch.trainer.reference import layers, optim, schedules


def test_activation_names_are_the_layers_registry():
    assert len(set(train.ACTIVATIONS)) == len(train.ACTIVATIONS)
    assert set(train.ACTIVATIONS) == set(layers.ACTIVATIONS)


def test_optimizer_names_are_the_update_rules():
    assert len(set(train.OPTIMIZERS)) == len(train.OPTIMIZERS)
    assert set(train.OPTIMIZERS) == set(optim.RULES)


@pytest.mark.parametrize("name", train.SCHEDULES)
def test_every_schedule_name_is_accepted_by_lr_at(name):
    lrs = [schedules.lr_at(epoch, 0.1, name, 0.5, 2) for epoch in range(4)]
    assert lrs[0] == 0.1 and all(math.isfinite(v) and v > 0 for v in lrs)


def test_an_unknown_schedule_is_a_config_error():
    assert "cosine" not in train.SCHEDULES
    with pytest.raises(ConfigError):
        schedules.lr_at(0, 0.1, "cosine", 0.5, 2)
