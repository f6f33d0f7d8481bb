"""Same outputs before and after a refactor (issue 12): timings aside, every output must stay identical.

Not a test and not part of the package. It runs a fixed list of `hpsearch` commands against the code in a
source folder, saves what each one produced, and compares two such recordings:

    # record the code in SRC_DIR (run from anywhere; SRC_DIR is the folder holding the hpsearch package)
    python benchmarks/same_outputs.py record --src /tmp/old --into /tmp/same-before
    python benchmarks/same_outputs.py record --src /work/main --into /tmp/same-after
    python benchmarks/same_outputs.py compare /tmp/same-before /tmp/same-after

    # or both at once (two temporary recordings, then compare):
    python benchmarks/same_outputs.py check --old /tmp/old --new /work/main

`compare` prints one line per case, "same", "DIFFERENT <first differing key path>" or "ORDER-ONLY <path>"
(equal as dicts, different key order), and exits 1 if any case is not "same".

How a command is run: `sys.executable -m hpsearch ARGS` with PYTHONPATH=SRC_DIR (any HPSEARCH_* variables of
the calling shell removed, COLUMNS=120) in a fixed scratch folder (default /tmp/hpsearch-same/run, wiped and
recreated before each group of commands, never SRC_DIR: `python -m` puts the cwd first on sys.path), so that
absolute paths in the outputs are the same in every recording. Before recording, the script checks that
`import hpsearch` in that setting really loads SRC_DIR's package (not the editable install).

What is saved, per command, in OUT_DIR/<case>.json: argv, exit code, stdout (parsed JSON when it is JSON,
else its lines), stderr lines, and every file the command created or changed under the scratch folder
(JSON files: parsed content; other files, e.g. Optuna journals, whose content holds wall-clock stamps:
their name only, marked "<not JSON: content not compared>").

Normalisation (nothing else is changed or dropped; key order is kept and compared):
- JSON: every key named "seconds" is dropped, at any depth (trial times, and the results' progress.seconds).
- JSON string values and stderr: the worker id "<hostname>:<pid>" becomes "<host>:<pid>".
- stderr: durations written as a number glued to a unit ("12.3s", "40ms") or as a clock ("0:01:02") get
  their digits replaced by "#" (none appear with --quiet on the commands below).

Takes about 10 s per recording on a 2-core machine (31 commands). Only one recording at a time may use a
scratch folder (a lock file beside it enforces that).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SCRATCH = "/tmp/hpsearch-same/run"
TIMEOUT = 600  # seconds per command
MARKER = "_recording.json"  # written into every recording; never compared

GRID_YAML = """\
# grid space of same_outputs.py: 3 x 2 points, 2 epochs
epochs: 2
params:
  lr: {low: 1e-3, high: 1, log: true, points: 3}
  reg: {low: 1e-5, high: 1e-1, log: true, points: 2}
"""

# a small user data file (90 rows, 4 features, 3 classes) and a broken one, as text
SMALL_CSV = "a,b,c,d,label\n" + "".join(
    f"{(k * 37 % 101) / 10:.1f},{(k * 53 % 89) / 10:.1f},{k % 7 + (k % 3) * 5},{(k * k) % 13},{k % 3}\n" for k in range(90))
BAD_CSV = "a,b,label\n1,x,0\n3,4,1\n"


@dataclass
class Cmd:
    name: str  # the case file name (without .json)
    args: list[str]  # after `python -m hpsearch`; "{S}" is replaced by the scratch folder
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Group:
    """Commands run one after the other in one freshly wiped scratch folder."""

    name: str
    cmds: list[Cmd]
    dirs: tuple[str, ...] = ()  # folders created in the scratch folder first
    files: dict[str, str] = field(default_factory=dict)  # files written there first (name -> text)


def _search(tag: str, jobs: int) -> list[Cmd]:
    j = ["--jobs", str(jobs)]
    return [
        Cmd(f"{tag}_1_coarse", ["coarse", "--data", "digits", "--trials", "12", "--epochs", "2", "--seed", "3",
                                *j, "--out", f"{tag}/results.json", "--json", "--quiet"]),
        Cmd(f"{tag}_2_fine", ["fine", "--from", f"{tag}/results.json", "--trials", "6", "--epochs", "2", *j,
                              "--json", "--quiet"]),  # default --out: <tag>/results.fine.json
    ]


ERRORS: list[tuple[str, list[str], dict[str, str]]] = [
    ("train_lr_negative", ["train", "--lr", "-1"], {}),
    ("coarse_trials_0", ["coarse", "--trials", "0"], {}),
    ("coarse_space_missing", ["coarse", "--space", "missing.yaml"], {}),
    ("fine_from_missing", ["fine", "--from", "nope.json"], {}),
    ("sanity_only_unknown", ["sanity", "--only", "nope"], {}),
    ("coarse_grace_too_small", ["coarse", "--grace", "0.1", "--trials", "2", "--epochs", "1"], {}),
    ("coarse_env_grace_abc", ["coarse", "--trials", "2", "--epochs", "1", "--out", "e/r.json"],
     {"HPSEARCH_GRACE": "abc"}),
    ("train_hidden_not_int", ["train", "--hidden", "10,x"], {}),
    ("data_missing", ["data", "nope_such_file"], {}),
    ("report_missing", ["report", "nope.json"], {}),
    ("worker_no_storage", ["worker", "--study", "x"], {}),
    ("coarse_jobs_negative", ["coarse", "--jobs", "-1"], {}),
]

GROUPS: list[Group] = [
    # 1. coarse + fine + report on digits, one process
    Group("1_jobs1", [*_search("j1", 1), Cmd("j1_3_report", ["report", "j1/results.json", "--json", "--quiet"])],
          dirs=("j1",)),
    # 2. the same search on 2 worker processes (results should match j1's apart from paths)
    Group("2_jobs2", _search("j2", 2), dirs=("j2",)),
    # 3. a grid space on spiral
    Group("3_grid", [Cmd("grid_1_coarse", ["coarse", "--data", "spiral", "--sampler", "grid", "--space",
                                           "grid.yaml", "--out", "g/results.json", "--json", "--quiet"])],
          dirs=("g",), files={"grid.yaml": GRID_YAML}),
    # 4. a queued study: enqueue only (no --quiet: its stderr hint is recorded), one worker, export
    Group("4_queue", [
        Cmd("queue_1_coarse_enqueue", ["coarse", "--jobs", "0", "--storage", "{S}/q.journal", "--study", "q",
                                       "--trials", "4", "--epochs", "1", "--out", "q/results.json", "--json"]),
        Cmd("queue_2_worker", ["worker", "--storage", "{S}/q.journal", "--study", "q", "--json", "--quiet"]),
        Cmd("queue_3_export", ["export", "--storage", "{S}/q.journal", "--study", "q", "--out", "q/exported.json",
                               "--json", "--quiet"]),
    ], dirs=("q",)),
    # 5. sanity
    Group("5_sanity", [
        Cmd("sanity_digits", ["sanity", "--json", "--quiet"]),
        Cmd("sanity_spiral_tanh", ["sanity", "--data", "spiral", "--activation", "tanh", "--json", "--quiet"]),
    ]),
    # 6. train
    Group("6_train", [
        Cmd("train_digits", ["train", "--json", "--quiet", "--epochs", "3"]),
        Cmd("train_spiral_bn_dropout", ["train", "--data", "spiral", "--hidden", "50,20", "--batchnorm",
                                        "--dropout", "0.2", "--epochs", "3", "--json", "--quiet"]),
    ]),
    # 7. data
    Group("7_data", [Cmd("data_digits", ["data", "digits", "--json", "--quiet"])]),
    # 9. user files named by relative paths: a stage records them absolute, train and sanity as typed; a space
    # file named after a key it holds
    Group("9_user_files", [
        Cmd("files_train_csv", ["train", "--data", "small.csv", "--epochs", "1", "--batch-size", "20", "--json",
                                "--quiet"]),
        Cmd("files_sanity_bad_csv", ["sanity", "--data", "bad.csv", "--quiet"]),
        Cmd("files_coarse_csv", ["coarse", "--data", "small.csv", "--trials", "3", "--epochs", "1", "--batch-size",
                                 "20", "--out", "c/r.json", "--json", "--quiet"]),
        Cmd("files_space_named_epochs", ["coarse", "--space", "epochs.yaml", "--epochs", "0", "--out", "c/x.json",
                                         "--quiet"]),
        Cmd("files_batch_too_big", ["coarse", "--data", "small.csv", "--batch-size", "1000", "--trials", "2",
                                    "--out", "c/y.json", "--quiet"]),
    ], dirs=("c",), files={"small.csv": SMALL_CSV, "bad.csv": BAD_CSV, "epochs.yaml": GRID_YAML}),
    # 8. bad input: each in its own fresh folder; e/ exists so that --out e/r.json passes and the env check fires
    *[Group(f"8_error_{n}", [Cmd(f"error_{n}", a, env)], dirs=("e",)) for n, a, env in ERRORS],
]


# ---------------------------------------------------------------- normalisation

_HOST_PID = re.compile(re.escape(socket.gethostname()) + r":\d+\b")
_DURATION = re.compile(r"\b\d+(?:\.\d+)?(?:ms|s)\b|\b\d+:\d\d(?::\d\d)?\b")


def _norm_text(s: str) -> str:
    return _HOST_PID.sub("<host>:<pid>", s)


def _norm_stderr(s: str) -> str:
    s = _norm_text(s)
    return _DURATION.sub(lambda m: re.sub(r"\d", "#", m.group(0)), s)


def normalise(obj):
    """Drop every "seconds" key (timings) and mask worker ids; keeps key order and everything else."""
    if isinstance(obj, dict):
        return {k: normalise(v) for k, v in obj.items() if k != "seconds"}
    if isinstance(obj, list):
        return [normalise(v) for v in obj]
    if isinstance(obj, str):
        return _norm_text(obj)
    return obj


def _parse_json(text: str):
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


# ---------------------------------------------------------------- recording


def _env(src: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HPSEARCH_")}
    env["PYTHONPATH"] = str(src)
    env["COLUMNS"] = "120"
    env.update(extra)
    return env


def _snapshot(root: Path) -> dict[str, tuple]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            st = p.stat()
            out[p.relative_to(root).as_posix()] = (st.st_mtime_ns, st.st_size, st.st_ino,
                                                   hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def _fresh(scratch: Path, group: Group) -> None:
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    for d in group.dirs:
        (scratch / d).mkdir(parents=True, exist_ok=True)
    for name, text in group.files.items():
        (scratch / name).write_text(text)


def _check_import(src: Path, scratch: Path) -> str:
    """The package `python -m hpsearch` will load in the recording's setting; it must be SRC_DIR's."""
    scratch.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([sys.executable, "-c", "import hpsearch, sys; print(hpsearch.__file__)"], cwd=scratch,
                       env=_env(src, {}), capture_output=True, text=True, timeout=120, check=False)
    path = r.stdout.strip()
    if r.returncode != 0 or not Path(path).resolve().is_relative_to(src):
        sys.exit(f"same_outputs: `import hpsearch` with PYTHONPATH={src} loads {path or r.stderr.strip()!r}, "
                 f"not a package under {src}")
    return path


def _run(cmd: Cmd, src: Path, scratch: Path) -> tuple[dict, float]:
    args = [a.replace("{S}", str(scratch)) for a in cmd.args]
    before = _snapshot(scratch)
    t = time.perf_counter()
    try:
        r = subprocess.run([sys.executable, "-m", "hpsearch", *args], cwd=scratch, env=_env(src, cmd.env),
                           capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL, check=False)
        code, out, err = r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        code = f"timeout after {TIMEOUT}s"
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
    took = time.perf_counter() - t
    after = _snapshot(scratch)

    is_json, parsed = _parse_json(out) if out.strip() else (False, None)
    files = {}
    for rel, state in after.items():
        if before.get(rel) == state:
            continue
        ok, content = _parse_json((scratch / rel).read_text(errors="replace")) if rel.endswith(".json") else (
            False, None)
        files[rel] = normalise(content) if ok else "<not JSON: content not compared>"
    gone = sorted(set(before) - set(after))
    rec = {
        "case": cmd.name,
        "argv": ["hpsearch", *args],
        "env": cmd.env,
        "exit_code": code,
        "stdout_kind": "json" if is_json else "text",
        "stdout": normalise(parsed) if is_json else [_norm_text(x) for x in out.splitlines()],
        "stderr": [_norm_stderr(x) for x in err.splitlines()],
        "files_written": files,
    }
    if gone:
        rec["files_removed"] = gone
    return rec, took


def _prepare_out(out: Path) -> None:
    if out.exists():
        entries = list(out.iterdir())
        if entries and not (out / MARKER).exists():
            sys.exit(f"same_outputs: {out} is neither empty nor an earlier recording; choose another --into")
        for p in entries:  # an earlier recording: its case files are replaced
            if p.is_file() and p.suffix == ".json":
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def _scratch_lock(scratch: Path):
    scratch.parent.mkdir(parents=True, exist_ok=True)
    with open(scratch.parent / (scratch.name + ".lock"), "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            sys.exit(f"same_outputs: another recording is using {scratch}; wait for it or pass --scratch")
        yield


def record(src: str, into: str, scratch: str = DEFAULT_SCRATCH) -> Path:
    src_p, out, scr = Path(src).resolve(), Path(into).resolve(), Path(scratch).resolve()
    if not (src_p / "hpsearch").is_dir():
        sys.exit(f"same_outputs: {src_p} holds no hpsearch package folder")
    for a, b in ((scr, src_p), (src_p, scr), (out, scr), (scr, out)):
        if a == b or a.is_relative_to(b):
            sys.exit(f"same_outputs: the scratch folder {scr} must lie outside {src_p} and {out} (and not hold them)")
    if out == src_p or out.is_relative_to(src_p) or src_p.is_relative_to(out):
        sys.exit(f"same_outputs: --into {out} must lie outside the source folder {src_p} (and not hold it)")
    _prepare_out(out)
    with _scratch_lock(scr):
        loaded = _check_import(src_p, scr)
        print(f"recording {src_p} (hpsearch from {loaded}) into {out}, scratch {scr}", flush=True)
        t0 = time.perf_counter()
        cases = []
        for g in GROUPS:
            _fresh(scr, g)
            for cmd in g.cmds:
                rec, took = _run(cmd, src_p, scr)
                rec = {"group": g.name, **rec}
                if g.files:
                    rec["inputs"] = g.files
                (out / f"{cmd.name}.json").write_text(json.dumps(rec, indent=1, allow_nan=True) + "\n")
                cases.append(cmd.name)
                print(f"  {took:6.1f}s  exit {rec['exit_code']!s:>3}  {cmd.name}: {' '.join(rec['argv'])}", flush=True)
        total = time.perf_counter() - t0
        shutil.rmtree(scr, ignore_errors=True)
    git = ["git", "-C", str(src_p), "rev-parse", "HEAD"]
    commit = subprocess.run(git, capture_output=True, text=True, check=False).stdout
    import numpy  # only for the record of versions

    (out / MARKER).write_text(json.dumps({
        "src": str(src_p), "commit": commit.strip() or None, "hpsearch_file": loaded, "scratch": str(scr),
        "python": sys.version, "numpy": numpy.__version__, "platform": platform.platform(),
        "seconds": round(total, 1), "cases": cases,
    }, indent=1) + "\n")
    print(f"recorded {len(cases)} commands in {total:.1f}s", flush=True)
    return out


# ---------------------------------------------------------------- comparing


def _fmt(path: list) -> str:
    s = ""
    for p in path:
        if isinstance(p, int):
            s += f"[{p}]"
        elif re.fullmatch(r"\w+", p):
            s += f".{p}" if s else p
        else:  # a file name such as j1/results.json
            s += f"[{json.dumps(p)}]"
    return s or "<root>"


def _short(v) -> str:
    s = json.dumps(v, allow_nan=True)
    return s if len(s) <= 80 else s[:77] + "..."


def content_diff(a, b, path=()):
    """First path where a and b differ in content (key order ignored, types strict: 1 != 1.0 != True)."""
    if type(a) is not type(b):
        return list(path), f"{_short(a)} vs {_short(b)}"
    if isinstance(a, dict):
        for k in a:
            if k not in b:
                return [*path, k], "only in A"
        for k in b:
            if k not in a:
                return [*path, k], "only in B"
        for k in a:
            d = content_diff(a[k], b[k], (*path, k))
            if d:
                return d
        return None
    if isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b)):
            d = content_diff(x, y, (*path, i))
            if d:
                return d
        if len(a) != len(b):
            return [*path, min(len(a), len(b))], f"length {len(a)} vs {len(b)}"
        return None
    if json.dumps(a, allow_nan=True) != json.dumps(b, allow_nan=True):  # NaN == NaN here, -0.0 != 0.0
        return list(path), f"{_short(a)} vs {_short(b)}"
    return None


def order_diff(a, b, path=()):
    """For content-equal a and b: the first object whose keys come in another order."""
    if isinstance(a, dict):
        if list(a) != list(b):
            i = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
            return list(path), f"key #{i} is {list(a)[i]!r} vs {list(b)[i]!r}"
        for k in a:
            d = order_diff(a[k], b[k], (*path, k))
            if d:
                return d
    elif isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b)):
            d = order_diff(x, y, (*path, i))
            if d:
                return d
    return None


def compare(a_dir: str, b_dir: str) -> int:
    a, b = Path(a_dir), Path(b_dir)
    for d in (a, b):
        if not (d / MARKER).exists():
            sys.exit(f"same_outputs: {d} is not a recording (no {MARKER})")
    names = sorted({p.name for d in (a, b) for p in d.glob("*.json")} - {MARKER})
    counts = {"same": 0, "DIFFERENT": 0, "ORDER-ONLY": 0}
    for name in names:
        pa, pb = a / name, b / name
        case = name[:-5]
        if not pa.exists() or not pb.exists():
            verdict, detail = "DIFFERENT", f"case missing in {'A' if not pa.exists() else 'B'}"
        else:
            ra, rb = json.loads(pa.read_text()), json.loads(pb.read_text())
            if json.dumps(ra, allow_nan=True) == json.dumps(rb, allow_nan=True):  # order-sensitive
                verdict, detail = "same", ""
            elif d := content_diff(ra, rb):
                verdict, detail = "DIFFERENT", f"{_fmt(d[0])}: {d[1]}"
            else:
                d = order_diff(ra, rb)
                verdict, detail = "ORDER-ONLY", f"equal as dicts, key order differs at {_fmt(d[0])}: {d[1]}"
        counts[verdict] += 1
        print(f"{verdict:<10} {case}" + (f"  {detail}" if detail else ""))
    bad = counts["DIFFERENT"] + counts["ORDER-ONLY"]
    print(f"{counts['same']} same, {counts['DIFFERENT']} different, {counts['ORDER-ONLY']} differing only in key "
          f"order ({len(names)} cases: {a} vs {b})")
    return 1 if bad else 0


# ---------------------------------------------------------------- command line


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record", help="run the fixed commands with the code in --src, save into --into")
    r.add_argument("--src", required=True, help="folder holding the hpsearch package (e.g. /tmp/old)")
    r.add_argument("--into", required=True, help="recording folder (created; an earlier recording is replaced)")
    r.add_argument("--scratch", default=DEFAULT_SCRATCH, help=f"working folder, wiped (default {DEFAULT_SCRATCH})")
    c = sub.add_parser("compare", help="compare two recordings; exit 1 if any case differs")
    c.add_argument("a")
    c.add_argument("b")
    k = sub.add_parser("check", help="record --old and --new into temporary folders and compare them")
    k.add_argument("--old", required=True)
    k.add_argument("--new", required=True)
    k.add_argument("--scratch", default=DEFAULT_SCRATCH)
    args = ap.parse_args(argv)
    if args.cmd == "record":
        record(args.src, args.into, args.scratch)
        return 0
    if args.cmd == "compare":
        return compare(args.a, args.b)
    tmp = Path(tempfile.mkdtemp(prefix="hpsearch-same-"))
    a = record(args.old, str(tmp / "old"), args.scratch)
    b = record(args.new, str(tmp / "new"), args.scratch)
    code = compare(str(a), str(b))
    print(f"recordings kept in {tmp}")
    return code


if __name__ == "__main__":
    sys.exit(main())
