"""Run the README's example commands, for cog: the README's outputs are generated from real runs, never typed.

In README.md a block reads

    <!-- [[[cog readme_cog.console("hpsearch sanity", head=12) ]]] -->
    ```console
    $ hpsearch sanity
    ...the real output...
    ```
    <!-- [[[end]]] -->

Regenerate every block (from the repository root, the package installed):

    cog -r -I tests -p 'import readme_cog' README.md

tests/test_readme.py runs the same blocks into a copy and fails when the README no longer matches what the
commands print (numbers and table widths aside, see `shape`), so a change of output that the README does not
show fails CI.

All blocks of one cog run share one working folder (a coarse block's results.json feeds the fine block after
it). The commands run with a fixed terminal width, no colour, one BLAS thread and OpenBLAS's Haswell kernel, so
that float32 sums come out the same on any x86-64 machine with AVX2.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

WIDTH = 100  # the terminal width the README's outputs are rendered at

# the README's walkthrough: digits split into a training file and a held-out test file (360 rows)
SPLIT_DIGITS = ("python -c \"import numpy as np; from hpsearch.data.builtin import digits; X, y = digits(); "
                "o = np.random.default_rng(0).permutation(len(y)); "
                "np.savez('digits_train.npz', X=X[o[360:]], y=y[o[360:]]); "
                "np.savez('digits_test.npz', X=X[o[:360]], y=y[o[:360]])\"")
# the lecture's "worrying" lr range
LECTURE_YAML = """cat > lecture.yaml <<'EOF'
sampler: random
trials: 20
epochs: 5
params:
  lr:  {low: 1e-7, high: 1e-4, log: true}
  reg: {low: 1e-5, high: 1e-3, log: true}
  hidden: [32]
  batch_size: 10
EOF"""
_work: Path | None = None


def workdir() -> Path:
    """The folder every block of this run works in (created on first use, removed at exit)."""
    global _work
    if _work is None:
        _work = Path(tempfile.mkdtemp(prefix="hpsearch-readme-"))
        atexit.register(shutil.rmtree, _work, True)
    return _work


def _env(width: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HPSEARCH_")}
    bindir = str(Path(sys.executable).parent)  # the hpsearch console script next to this interpreter
    env.update(COLUMNS=str(width), LINES="50", NO_COLOR="1", TERM="dumb", PYTHONHASHSEED="0",
               OPENBLAS_NUM_THREADS="1", OPENBLAS_CORETYPE="Haswell", HPSEARCH_THREADS="1",
               PATH=bindir + os.pathsep + env.get("PATH", ""))
    return env


def run(command: str, width: int = WIDTH, folder: str = "") -> str:
    """Run one shell command in the shared folder (or its subfolder `folder`, for a walkthrough that starts
    afresh); its stdout and stderr, interleaved as a terminal shows them."""
    cwd = workdir() / folder
    cwd.mkdir(exist_ok=True)
    p = subprocess.run(["bash", "-c", command], cwd=cwd, env=_env(width), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=600)
    return "\n".join(line.rstrip() for line in p.stdout.rstrip("\n").splitlines())


def setup(*commands: str, folder: str = "") -> None:
    """Commands whose output the README does not show (making a data file, say)."""
    for c in commands:
        run(c, folder=folder)


def console(*commands: str, head: int | None = None, tail: int | None = None, width: int = WIDTH,
            lang: str = "console", folder: str = "", start: str | None = None) -> None:
    """Emit a ```console block: each command after `$ `, then its output; of the last command's output only
    the lines from the first one starting with `start`, and of those the first `head` and/or the last `tail`,
    with `...` where lines were left out."""
    import cog  # provided by cogapp while it runs a block

    cog.outl(f"```{lang}")
    for i, c in enumerate(commands):
        cog.outl(f"$ {c}")
        out = run(c, width, folder)
        lines = out.splitlines() if out else []
        if i == len(commands) - 1 and start is not None:
            first = next(j for j, line in enumerate(lines) if line.startswith(start))
            if first:
                cog.outl("...")
            lines = lines[first:]
        if i == len(commands) - 1 and (head is not None or tail is not None):
            keep_head = lines[:head] if head is not None else []
            keep_tail = lines[-tail:] if tail else []
            if len(keep_head) + len(keep_tail) < len(lines):
                lines = keep_head + ["..."] + keep_tail
        for line in lines:
            cog.outl(line)
    cog.outl("```")


def shape(text: str) -> str:
    """What the README check compares: the text with every number replaced by `#` and every run of spaces,
    line breaks and table rules collapsed to one space. Wording, flags, headers, labels and the lines shown
    must match; values, timings and column widths may differ from run to run and machine to machine."""
    text = re.sub(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?%?", "#", text)
    text = re.sub(r"[─━┄┈═]+", " ", text)
    text = re.sub(r"#(?:[ ,:/x#]*#)?", "#", text)  # lists of numbers may change length
    return re.sub(r"\s+", " ", text).strip()


def trials_json(path: str, numbers: list[int], keep: int = 4) -> None:
    """Emit a ```json block with trials `numbers` of the results file `path` (in the shared folder), one object
    each, numbers rounded to 4 significant digits and lists longer than 2 * `keep` (the curves) shortened to
    their first `keep` values, "...", the last."""
    import json

    import cog

    doc = json.loads((workdir() / path).read_text())

    def short(v):
        if isinstance(v, list) and len(v) > 2 * keep:
            return v[:keep] + ["..."] + v[-1:]
        return v

    def rounded(v):
        if isinstance(v, float):
            return float(f"{v:.4g}")
        if isinstance(v, list):
            return [rounded(x) for x in v]
        if isinstance(v, dict):
            return {k: rounded(x) for k, x in v.items()}
        return v

    cog.outl("```json")
    for t in doc["trials"]:
        if t["number"] in numbers:
            text = json.dumps(rounded({k: short(v) for k, v in t.items()}))
            line = ""
            for part in text.split(', "'):  # between keys: a line break there is still JSON
                piece = part if not line else ', "' + part
                if line and len(line) + len(piece) > WIDTH:
                    cog.outl(line + ",")
                    line, piece = "", ' "' + part
                line += piece
            cog.outl(line)
    cog.outl("```")

