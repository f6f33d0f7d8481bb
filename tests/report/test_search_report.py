"""report/search.py renders a results document: summary, ranked table, scatter, narrowing, diagnosis."""

from __future__ import annotations

from rich.console import Console

from hpsearch.report import search as search_report


def doc(trials, best=None, narrowed=None, interrupted=False):
    return {
        "command": "coarse",
        "settings": {"narrowed": narrowed} if narrowed else {},
        "space": {"epochs": 5, "params": {"lr": {"low": 1e-6, "high": 1.0, "log": True},
                                          "reg": {"low": 1e-5, "high": 1e5, "log": True}}},
        "progress": {"requested": len(trials), "done": len(trials), "interrupted": interrupted},
        "trials": trials,
        "best": best,
        "warnings": [],
    }


def trial(n, lr, reg, status="complete", val=None, train=None, diagnosis=(), error=None):
    return {"number": n, "params": {"lr": lr, "reg": reg}, "status": status, "val_acc": val, "train_acc": train,
            "epochs_run": 5 if status == "complete" else 1, "diagnosis": list(diagnosis), "error": error}


TRIALS = [
    trial(0, 1e-3, 1e-4, val=0.80, train=0.82, diagnosis=[{"kind": "healthy", "message": "fine"}]),
    trial(1, 0.5, 1e-3, status="diverged", diagnosis=[{"kind": "lr_too_high", "message": "exploded"}]),
    trial(2, 1e-2, 1e-4, val=0.95, train=0.99, diagnosis=[{"kind": "healthy", "message": "no problem seen"}]),
    trial(3, 1e-5, 1e2, status="failed", error="ValueError: boom"),
    trial(4, 1e-2, 1e-2, val=0.95, train=0.96),
]
BEST = {"number": 2, "params": {"lr": 1e-2, "reg": 1e-4}, "val_acc": 0.95, "train_acc": 0.99}


def text(renderable, width: int = 120) -> str:
    con = Console(width=width, record=True, color_system=None)
    con.print(renderable)
    return con.export_text()


def test_counts_and_ranking():
    d = doc(TRIALS, BEST)
    assert search_report.counts(d) == {"complete": 3, "diverged": 1, "failed": 1}
    # complete by val_acc (ties by number), then the others by number
    assert [t["number"] for t in search_report.ranked(d)] == [2, 4, 0, 1, 3]


def test_summary_names_the_best_trial_or_its_absence():
    s = search_report.summary(doc(TRIALS, BEST)).plain
    assert "5/5 trials" in s and "3 complete, 1 diverged, 1 failed" in s
    assert "best val_acc 0.9500" in s and "#2: lr 0.01, reg 1.00e-04" in s
    none = search_report.summary(doc([trial(0, 0.5, 1e-3, status="diverged")], None, interrupted=True)).plain
    assert "no best trial" in none and "interrupted" in none


def test_the_table_lists_the_top_trials_in_order():
    out = text(search_report.top_table(doc(TRIALS, BEST), 3))
    rows = [line for line in out.splitlines() if line.strip()[:1] in "│┃|" and any(c.isdigit() for c in line)]
    numbers = [line.strip("│┃| ").split()[0] for line in rows]
    assert numbers == ["2", "4", "0"]
    assert "top 3 trials" in out and "0.9500" in out and "5/5" in out


def test_diverged_and_failed_rows_say_why():
    out = text(search_report.top_table(doc(TRIALS, BEST), 10))
    assert "diverged: lr_too_high" in out and "failed: ValueError: boom" in out


def test_the_scatter_places_trials_on_log_axes_and_marks_the_best():
    # the lr x reg map (report/space_plots.py): cells two characters wide, levels on the stage's val_acc range
    d = doc(TRIALS, BEST)
    out = text(search_report.scatter(d, width=50, height=6))
    lines = out.splitlines()
    assert lines[0].startswith("val_acc over lr (x, log) and reg (y, log)")
    plot = [line.split("┤", 1)[-1].split("│", 1)[-1] for line in lines if line[9:10] in "┤│"]
    assert len(plot) == 6
    marks = "".join(plot)
    assert marks.count("★") == 1 and marks.count("x") == 1 and marks.count("!") == 1
    # 0.95 (trial 4) is the top of this stage's range 0.80..0.95, 0.80 (trial 0) its bottom
    assert "█" in marks and "▁" in marks
    # 20 cells across: lr 1e-2 is 4/6 of the way along 1e-6..1, cell int(4/6 * 20) = 13 (column 26);
    # reg 1e-4 is 1/10 up: the bottom row
    assert plot[-1][26] == "★"


def test_a_space_without_ranges_says_so():
    d = doc(TRIALS, BEST)
    d["space"]["params"] = {"activation": {"choices": ["relu", "tanh"]}}
    assert "no range parameter" in text(search_report.scatter(d))


def test_the_narrowing_is_shown_for_a_fine_stage():
    narrowed = {"top_k": 3, "top_numbers": [2, 4, 0], "params": {
        "lr": {"kind": "range", "from": [1e-6, 1.0], "to": [1e-3, 0.1], "extended": None},
        "reg": {"kind": "range", "from": [1e-5, 1e5], "to": [1e-6, 1e-2], "extended": "low"},
        "activation": {"kind": "fixed", "from": ["relu", "tanh"], "to": "relu"}}}
    out = text(search_report.report(doc(TRIALS, BEST, narrowed)))
    assert "narrowed around the top 3 trials of the parent" in out
    assert "lr: [1.00e-06, 1] -> [0.001, 0.1]" in out
    assert "reg: [1.00e-05, 1.00e+05] -> [1.00e-06, 0.01] (extended past the low edge)" in out
    assert "activation: relu,tanh -> fixed at relu" in out


def test_the_report_ends_with_the_best_trials_diagnosis():
    out = text(search_report.report(doc(TRIALS, BEST)))
    assert "best trial #2: no problem seen" in out
