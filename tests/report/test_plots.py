"""report/plots.py, space_plots.py and canvas.py: the curves, slice plots and lr x reg map, read as a person would
(tick labels, where the marks are, what rises) at the widths of a small and a wide terminal."""

from __future__ import annotations

import math
import re

import pytest
from rich.console import Console

from hpsearch.report import canvas, plots, space_plots
from hpsearch.report import search as search_report

LW = canvas.LABEL_W + 2  # columns left of a plot's body (tick labels and the axis line)
WIDTHS = (80, 140)


def lines_of(renderable, console_width: int = 300, colour: bool = False) -> list[str]:
    con = Console(width=console_width, record=True, color_system="truecolor" if colour else None)
    con.print(renderable)
    return con.export_text(styles=False).splitlines()


def space(lr=(1e-6, 1.0), reg=(1e-5, 1e5), extra=None):
    params = {"lr": {"low": lr[0], "high": lr[1], "log": True}, "reg": {"low": reg[0], "high": reg[1], "log": True},
              "hidden": [10]}
    params.update(extra or {})
    return {"epochs": 5, "params": params}


def trial(n, lr, reg, status="complete", val=None, **more):
    t = {"number": n, "params": {"lr": lr, "reg": reg}, "status": status, "val_acc": val, "train_acc": val,
         "epochs_run": 5 if status == "complete" else 1, "diagnosis": [], "error": None}
    t.update(more)
    return t


def doc(trials, sp=None):
    done = [t for t in trials if t["status"] == "complete"]
    best = max(done, key=lambda t: t["val_acc"]) if done else None
    return {"command": "coarse", "settings": {}, "space": sp or space(), "warnings": [], "trials": trials,
            "progress": {"requested": len(trials), "done": len(trials)},
            "best": {"number": best["number"], "params": best["params"], "val_acc": best["val_acc"]} if best else None}


COARSE = doc([
    trial(0, 1e-3, 1e-4, val=0.80), trial(1, 0.5, 1e-3, status="diverged"), trial(2, 1e-2, 1e-4, val=0.95),
    trial(3, 1e-5, 1e2, status="failed"), trial(4, 1e-2, 1e-2, val=0.90), trial(5, 1e-6, 1e5, val=0.10),
    trial(6, 0.9, 10.0, status="diverged"),
])


def body_rows(lines: list[str]) -> list[str]:
    """The rows of a framed plot (the text right of its `┤` / `│` axis)."""
    return [line[LW:] for line in lines if len(line) > LW - 1 and line[LW - 1] in "┤│"]


def x_labels(lines: list[str], start: int = 0) -> tuple[str, str]:
    """The first axis line (`└`) at or after `start`, and the tick-label line under it."""
    i = next(i for i in range(start, len(lines)) if lines[i][LW - 1:LW] == "└")
    return lines[i], lines[i + 1]


# --------------------------------------------------------------------------- widths


@pytest.mark.parametrize("width", WIDTHS)
def test_nothing_is_wider_than_the_terminal(width):
    # drawn at the console's width (no width given), and at a width asked for on a wider console
    d = doc([dict(t, loss_curve=[2.3 * 0.98 ** i for i in range(120)], train_curve=[0.5, 0.7, 0.9],
                  val_curve=[0.5, 0.6, 0.8]) for t in COARSE["trials"]], COARSE["space"])
    out = lines_of(search_report.report(d, 5, curves=3), width)
    assert max(len(line) for line in out) <= width
    assert "val_acc over lr (x, log) and reg (y, log)" in out and "curves of the top 3 trials" in out
    for picture in (plots.curves(d, 3, width), space_plots.slices(d, width), space_plots.lr_reg_map(d, width)):
        out = lines_of(picture, 300)
        assert max(len(line) for line in out) <= width
        assert max(len(line) for line in out) >= width - 4  # and they use the width they are given


def test_wide_terminals_get_wider_pictures_and_panels_side_by_side():
    d = doc([dict(t, loss_curve=[2.3 * 0.98 ** i for i in range(50)], train_curve=[0.5, 0.9], val_curve=[0.5, 0.8])
             for t in COARSE["trials"]], COARSE["space"])
    narrow, wide = (lines_of(plots.curves(d, 1, w)) for w in WIDTHS)
    # stacked at 80 columns: two titles on their own lines; at 140 the panels share their lines
    assert any(line.startswith("loss per iteration") for line in narrow)
    assert any(line.startswith("accuracy per epoch") for line in narrow)
    assert any("loss per iteration" in line and "accuracy per epoch" in line for line in wide)
    m80 = lines_of(space_plots.lr_reg_map(COARSE, 80))
    m140 = lines_of(space_plots.lr_reg_map(COARSE, 140))
    assert len(x_labels(m140)[0]) > len(x_labels(m80)[0]) + 50 and len(body_rows(m140)) > len(body_rows(m80))


# --------------------------------------------------------------------------- the lr x reg map


@pytest.mark.parametrize("width", WIDTHS)
def test_the_map_has_decade_ticks_on_both_axes(width):
    out = lines_of(space_plots.lr_reg_map(COARSE, width))
    axis, labels = x_labels(out)
    ticks = [m.start() for m in re.finditer("┬", axis)]
    names = labels.split()
    assert names[0] == "lr" and len(names) - 1 >= 4
    values = [float(v) for v in names[1:]]
    exps = [math.log10(v) for v in values]
    assert all(e == round(e) for e in exps) and exps == sorted(exps) and -6 <= exps[0] and exps[-1] <= 0
    for v, m in zip(names[1:], re.finditer(r"\S+", labels[LW:])):
        centre = LW + m.start() + (len(v) - 1) // 2
        assert any(abs(centre - t) <= len(v) // 2 + 1 for t in ticks), (v, centre, ticks)
    # each label sits at its decade: cell = int(frac * cells), two characters a cell
    cells = (width - LW) // 2
    for v in values:
        col = min(cells - 1, int((math.log10(v) + 6) / 6 * cells)) * 2
        assert axis[LW + col] == "┬"
    # y: the rows with a tick carry decades of reg, falling from top to bottom
    ylabels = [line[:LW - 2].strip() for line in out if line[LW - 1:LW] == "┤"]
    yexp = [math.log10(float(v)) for v in ylabels]
    assert len(yexp) >= 3 and yexp == sorted(yexp, reverse=True) and yexp[0] <= 5 and yexp[-1] >= -5


@pytest.mark.parametrize("width", WIDTHS)
def test_the_map_marks_the_best_trial_at_its_cell_and_the_diverged_and_failed(width):
    out = lines_of(space_plots.lr_reg_map(COARSE, width))
    rows = body_rows(out)
    cells = (width - LW) // 2
    col = int((math.log10(1e-2) + 6) / 6 * cells)  # the best, trial 2: lr 1e-2, reg 1e-4
    row = len(rows) - 1 - int((math.log10(1e-4) + 5) / 10 * len(rows))
    assert rows[row][2 * col] == space_plots.MARK_BEST
    plot = "".join(rows)
    assert plot.count(space_plots.MARK_BEST) == 1
    assert plot.count(space_plots.MARK_DIVERGED) == 2 and plot.count(space_plots.MARK_FAILED) == 1
    # one glyph per two columns: neighbours never merge into numbers
    assert all(ch == " " for r in rows for ch in r[1::2])


def test_a_fine_stage_spread_over_a_narrow_range_shows_distinct_levels():
    # 24 trials with val_acc 0.921 .. 0.944: the old map printed `9` in every cell
    trials = [trial(i, 10 ** (-3 + i / 12), 10 ** (-5 + (i * 7 % 24) / 6), val=0.921 + i * 0.001) for i in range(24)]
    d = doc(trials, space(lr=(1e-3, 1e-1), reg=(1e-5, 1e-1)))
    out = lines_of(space_plots.lr_reg_map(d, 80))
    glyphs = set("".join(body_rows(out))) & set(space_plots.LEVELS)
    assert len(glyphs) >= 6
    legend = next(line for line in out if line.startswith("val_acc ▁"))
    bounds = [float(v) for v in re.findall(r"[▁▂▃▄▅▆▇█](\d\.\d+)", legend)]
    assert len(set(bounds)) == 8 and bounds == sorted(bounds) and 0.920 <= bounds[0] and bounds[-1] < 0.945
    # the higher a trial's val_acc, the higher its level (the best is ★, the rest keep their order)
    lo, hi = 0.921, 0.944
    assert [space_plots.level(t["val_acc"], lo, hi) for t in trials] == sorted(
        space_plots.level(t["val_acc"], lo, hi) for t in trials)


def test_the_old_scatter_name_draws_the_map_and_a_space_without_ranges_says_so():
    assert "val_acc over lr (x, log) and reg (y, log)" in lines_of(search_report.scatter(COARSE, 80))
    d = doc(COARSE["trials"], {"epochs": 1, "params": {"activation": {"choices": ["relu", "tanh"]}}})
    assert "no range parameter" in "\n".join(lines_of(search_report.scatter(d)))


# --------------------------------------------------------------------------- slice plots


@pytest.mark.parametrize("width", WIDTHS)
def test_slices_put_each_trial_at_its_value_and_val_acc(width):
    out = lines_of(space_plots.slices(COARSE, width), 300)
    assert max(len(line) for line in out) <= width
    start = next(i for i, line in enumerate(out) if line.startswith("val_acc over lr"))
    assert "(log x)" in out[start]
    panel = out[start + 1:]
    rows = body_rows(panel)
    # side by side at 140: take the lr panel's half; its columns are (panel width - LW)
    pw = (width - 3) // 2 if width >= 2 * 56 + 3 else width
    cols = pw - LW
    rows = [r[:cols] for r in rows][:9]  # 8 rows of val_acc and the strip of trials without one
    ylabels = {i: line[:LW - 2].strip() for i, line in enumerate(panel[:9]) if line[LW - 1:LW] == "┤"}
    # y: val_acc 0.1 .. 0.95 -> a round axis; the best (0.95, lr 1e-2) in the top row at its column
    top = float(ylabels[0])
    assert top >= 0.95 and top - 0.95 < 0.2
    col = int((math.log10(1e-2) + 6) / 6 * cols)
    assert rows[0][col] == space_plots.MARK_BEST
    # the strip: diverged (lr 0.5 and 0.9) as x, failed (lr 1e-5) as !, at their columns
    strip = rows[8]
    assert panel[8].lstrip().startswith("div/fail")
    for lr, mark in ((0.5, "x"), (0.9, "x"), (1e-5, "!")):
        assert strip[int((math.log10(lr) + 6) / 6 * cols)] == mark
    assert all(v is not None for v in ylabels.values())


def test_a_choice_parameter_gets_one_tick_per_choice():
    trials = [dict(trial(i, 1e-3, 1e-3, val=0.5 + i / 10), params={"lr": 1e-3, "reg": 1e-3,
                                                                  "act": ["relu", "tanh"][i % 2]}) for i in range(4)]
    d = doc(trials, space(extra={"act": {"choices": ["relu", "tanh"]}}))
    out = lines_of(space_plots.slices(d, 80))
    i = next(i for i, line in enumerate(out) if line.startswith("val_acc over act"))
    axis, labels = x_labels(out, i)
    assert labels.split() == ["act", "relu", "tanh"]
    assert axis.count("┬") == 2


# --------------------------------------------------------------------------- learning curves


def _line_rows(lines: list[str]) -> list[int | None]:
    """Per column of a loss panel, the top row holding a braille character of the line (the raw band draws `·`
    without colour, so braille here is the smoothed line)."""
    rows = body_rows(lines)
    width = max(len(r) for r in rows)
    out = []
    for c in range(width):
        hit = [i for i, r in enumerate(rows) if c < len(r) and 0x2800 < ord(r[c]) <= 0x28FF]
        out.append(hit[0] if hit else None)
    return out


@pytest.mark.parametrize("width", WIDTHS)
def test_a_rising_loss_rises_and_a_falling_one_falls(width):
    rising = [2.3 * 1.03 ** i for i in range(150)]
    falling = [2.3 * 0.97 ** i + 0.05 for i in range(150)]
    for loss, rises in ((rising, True), (falling, False)):
        out = [line.plain for line in plots.loss_panel(loss, 150, "iteration", width, colour=False)]
        assert max(len(line) for line in out) <= width
        top = [r for r in _line_rows(out) if r is not None]
        third = len(top) // 3
        left, right = sum(top[:third]) / third, sum(top[-third:]) / third
        assert (right < left) == rises  # row 0 is the top of the plot
        assert "log y" in out[0]  # both span more than LOG_RATIO


def test_a_non_finite_loss_is_marked_where_it_began_and_the_reason_shown():
    loss = [2.3] * 60 + [5.0, 40.0, None, None]
    stopped = {"iteration": 63, "epoch": 1, "reason": "non-finite loss"}
    t = trial(0, 0.9, 1e-3, status="diverged", loss_curve=loss, train_curve=[], val_curve=[], stopped_at=stopped)
    out = [line.plain for line in plots.trial_figure(t, 80, colour=False)]
    rows = body_rows(out)
    cols = 80 - LW
    # the first null is point 62 of 64: the mark in the top row, within the last twentieth of the width
    assert rows[0].count(plots.MARK_NONFINITE) == 1 and rows[0].index(plots.MARK_NONFINITE) >= 0.95 * cols - 1
    # and before it the loss jumps up: the line's top row at the right is above its row at the left
    tops = [r for r in _line_rows(out[:len(out)]) if r is not None]
    assert min(tops[-5:]) < tops[0]
    assert any("diverged at iteration 63 (epoch 1): non-finite loss" in line for line in out)
    assert any("no epoch finished" in line for line in out)


def test_accuracy_panel_shows_both_curves_and_the_gap():
    out = [line.plain for line in plots.acc_panel([0.6, 0.8, 0.95, 0.99], [0.3, 0.45, 0.5, 0.52], 4, 80, False)]
    plot = "".join(body_rows(out))
    assert plot.count(plots.MARK_TRAIN) == 4 and plot.count(plots.MARK_VAL) == 4
    assert "gap +0.470" in out[-1]
    _, labels = x_labels(out)
    assert labels.split() == ["epoch", "0", "1", "2", "3", "4"]
    ys = [float(line[:LW - 2]) for line in out if line[LW - 1:LW] == "┤"]
    assert ys == sorted(ys, reverse=True) and ys[0] >= 0.99 and ys[-1] <= 0.3


def test_an_old_file_without_loss_curves_still_draws_its_validation_curve():
    t = trial(0, 1e-3, 1e-3, val=0.8, val_curve=[0.5, 0.7, 0.8])
    out = lines_of(plots.curves(doc([t]), 3, 80))
    assert any("no loss curve in this file" in line for line in out)
    assert "".join(body_rows(out)).count(plots.MARK_VAL) == 3


def test_train_renders_its_curves_at_the_console_width(digits_split):
    from hpsearch.config.train import TrainConfig
    from hpsearch.report.train import train_table
    from hpsearch.trainer.diagnosis import diagnose
    from hpsearch.trainer.fit import fit

    cfg = TrainConfig.from_dict({"hidden": [20], "epochs": 2, "lr": 0.05})
    r = fit(digits_split, cfg, 0)
    for width in WIDTHS:
        out = lines_of(train_table(r, cfg, diagnose(r, cfg)), width)
        assert max(len(line) for line in out) <= width
        text = "\n".join(out)
        assert "loss per iteration" in text and "accuracy per epoch" in text and "diagnosis:" in text
        assert "last epoch: train" in text


def test_colour_draws_the_same_loss_picture_with_the_raw_band_in_colour_instead_of_dots():
    """Without colour the raw band is drawn in `·` so it reads apart from the line; with colour the same dots
    are braille in a dim style: the same rows hold the line either way."""
    loss = [2.3 * 0.97 ** i + 0.05 + 0.05 * math.sin(i) for i in range(600)]
    plain = [line.plain for line in plots.loss_panel(loss, 600, "iteration", 80, colour=False)]
    coloured = [line.plain for line in plots.loss_panel(loss, 600, "iteration", 80, colour=True)]
    assert len(plain) == len(coloured) and plain[0] == coloured[0] and plain[-1] == coloured[-1]
    assert "·" in "".join(body_rows(plain)) and "·" not in "".join(body_rows(coloured))


def test_a_trial_that_diverged_at_once_is_drawn_point_by_point_not_as_a_mean():
    """Two loss points (a coarse trial aborted in its first steps): no moving mean flattening them."""
    t = trial(0, 0.9, 1e4, status="diverged", loss_curve=[7.9e5, 5.3e11], train_curve=[], val_curve=[],
              stopped_at={"iteration": 2, "epoch": 1, "reason": "loss > 3 x initial loss"})
    out = [line.plain for line in plots.trial_figure(t, 80, colour=False)]
    assert "mean of 1" in "".join(out) and "diverged (diverged)" not in "".join(out)
    tops = [r for r in _line_rows(out) if r is not None]
    assert tops[0] > tops[-1]  # the line climbs from the first point to the second


def test_a_log_axis_smooths_with_a_geometric_mean():
    """A loss alternating 1 and 100 on a log axis: its smoothed line sits at 10 (the middle of the axis), not 50."""
    loss = [1.0, 100.0] * 150
    out = [line.plain for line in plots.loss_panel(loss, 300, "iteration", 80, colour=False)]
    assert "log y" in out[0]
    rows = [r for r in _line_rows(out) if r is not None]
    height = len(body_rows(out))
    middle = sorted(rows)[len(rows) // 2]
    assert abs(middle - (height - 1) / 2) <= 1.5


def test_a_file_without_any_curves_says_so_instead_of_claiming_nothing_finished():
    t = trial(0, 1e-3, 1e-3, val=0.8)
    for k in ("loss_curve", "train_curve", "val_curve"):
        t.pop(k, None)
    out = "\n".join(lines_of(plots.curves(doc([t]), 1, 80)))
    assert "no curves in this file" in out and "no epoch finished" not in out


# --------------------------------------------------------------------------- axes


@pytest.mark.parametrize("low,high,log,expect", [
    (1e-6, 1.0, True, ["1e-6", "1e-5", "1e-4", "0.001", "0.01", "0.1", "1"]),
    (0.001, 0.1, True, ["0.001", "0.01", "0.1"]),
    (0.01, 0.1, True, ["0.01", "0.02", "0.05", "0.1"]),
    (1e-4, 1e4, True, ["1e-4", "0.01", "1", "100", "1e4"]),
    (0.9, 0.95, False, ["0.90", "0.91", "0.92", "0.93", "0.94", "0.95"]),
    (0.0, 1.0, False, ["0", "0.2", "0.4", "0.6", "0.8", "1.0"]),
    (0.0, 5.0, False, ["0", "1", "2", "3", "4", "5"]),
])
def test_ticks_are_round_values_inside_the_range(low, high, log, expect):
    assert [lab for _, lab in canvas.Axis(low, high, log).ticks(7)] == expect
