"""Hypothesis strategies for search spaces, shared by tests/config/test_space.py and tests/engine/test_loop.py
(tests/ is on sys.path under pytest: `from spaces import spaces`)."""

from hypothesis import strategies as st

from hpsearch.config.space_file import parse_space


@st.composite
def ranges(draw, log=None):
    log = draw(st.booleans()) if log is None else log
    if log:
        a = draw(st.floats(min_value=-8, max_value=4))
        w = draw(st.floats(min_value=0.01, max_value=10))
        low, high = 10.0 ** a, 10.0 ** (a + w)
    else:
        low = draw(st.floats(min_value=0, max_value=100))
        high = low + draw(st.floats(min_value=1e-3, max_value=100))
    points = draw(st.none() | st.integers(2, 6))
    return {"low": low, "high": high, "log": log, **({"points": points} if points else {})}


@st.composite
def spaces(draw, sampler=None):
    params = {"lr": draw(ranges(log=True)), "reg": draw(ranges())}
    if draw(st.booleans()):
        params["batch_size"] = {"low": draw(st.integers(1, 50)), "high": draw(st.integers(51, 300)),
                                "log": draw(st.booleans()), "points": 3}
    if draw(st.booleans()):
        params["activation"] = {"choices": draw(st.lists(st.sampled_from(["relu", "tanh", "elu"]), min_size=1,
                                                         max_size=3, unique=True))}
    sampler = sampler or draw(st.sampled_from(["random", "grid"]))
    if sampler == "grid":
        for p in params.values():
            if "low" in p:
                p.setdefault("points", 2)
    return parse_space({"sampler": sampler, "trials": draw(st.integers(1, 8)), "params": params}, "h.yaml")
