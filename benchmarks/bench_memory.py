"""Benchmark: peak memory of a search on CIFAR-10-size data, --jobs 1 and 2, shared split on and off (not a test).

    python benchmarks/bench_memory.py                     # 50,000 x 3,072 uint8, 4 trials, 1 epoch
    python benchmarks/bench_memory.py --samples 10000 --json /tmp/mem.json

Writes a random uint8 X.npy (N x D) and y.npy (10 classes) to a temporary folder, then runs the real command
(`hpsearch coarse --data X.npy --jobs N --trials 4 --epochs 1 --hidden 16 --lr 1e-3 --quiet`) once per
configuration in a fresh process and samples the whole process tree every --every seconds from
/proc/<pid>/smaps_rollup:
- PSS (proportional set size) summed over the tree: each shared page counted once in total, split between
  the processes mapping it. The honest figure for "all processes together". Pages of the shared split live
  in /dev/shm (a tmpfs) and count as Pss_Shmem; the coordinator writes, so maps, every page of it for the
  whole run: none escapes the sum.
- RSS summed over the tree: every process counts each page it maps, so shared pages count once per process.
The budget (issue 6) is 1.5 x the float32 size of the data + 300 MB, for the whole search. MB = 10^6 bytes.
HPSEARCH_SHARE_SPLIT=0 gives the "off" rows: each worker loads and splits --data itself (the old behaviour).
Every run's trials must come out the same (same seed: same values, shared or not, any --jobs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402

MB = 1e6
FIELDS = ("Rss", "Pss", "Pss_Anon", "Pss_File", "Pss_Shmem")


def hpsearch_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("hpsearch")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "hpsearch"]


def make_data(folder: Path, n: int, d: int, classes: int, seed: int = 0) -> Path:
    """Random uint8 pixels (N, D) and balanced labels, written block by block (this process stays small)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    X = np.lib.format.open_memmap(folder / "X.npy", mode="w+", dtype=np.uint8, shape=(n, d))
    for i in range(0, n, 5000):
        X[i:i + 5000] = rng.integers(0, 256, size=(min(5000, n - i), d), dtype=np.uint8)
    X.flush()
    del X
    np.save(folder / "y.npy", rng.permutation(np.arange(n) % classes).astype(np.int64))
    return folder / "X.npy"


def tree(root: int) -> list[int]:
    """`root` and every process descended from it (workers run in their own session, not their own tree)."""
    kids: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def rollup(pid: int) -> dict[str, int] | None:
    """The FIELDS of /proc/<pid>/smaps_rollup, in bytes (None: the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (OSError, ProcessLookupError):
        return None
    got = {}
    for line in text.splitlines()[1:]:
        key, _, rest = line.partition(":")
        if key in FIELDS:
            got[key] = int(rest.split()[0]) * 1024
    return got or None


class Sampler:
    """Samples the tree of `pid` every `every` seconds in a thread; keeps the peaks of the sums."""

    def __init__(self, pid: int, every: float):
        self.pid, self.every = pid, every
        self.peak = {k: 0 for k in FIELDS}
        self.at_peak_pss: dict[str, int] = {}
        self.procs = self.samples = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            rs = [r for r in (rollup(p) for p in tree(self.pid)) if r]
            total = {k: sum(r.get(k, 0) for r in rs) for k in FIELDS}
            if total["Pss"] > self.peak["Pss"]:
                self.at_peak_pss = total
            self.peak = {k: max(self.peak[k], total[k]) for k in FIELDS}
            self.procs = max(self.procs, len(rs))
            self.samples += 1
            self.stop.wait(self.every)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def run_once(x: Path, jobs: int, share: bool, args) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as d:
        out = Path(d) / "r.json"
        cmd = hpsearch_cmd() + ["coarse", "--data", str(x), "--jobs", str(jobs), "--trials", str(args.trials),
                                "--epochs", str(args.epochs), "--hidden", args.hidden, "--lr", str(args.lr),
                                "--seed", "0", "--out", str(out), "--quiet"]
        env = {**os.environ, "HPSEARCH_SHARE_SPLIT": "1" if share else "0"}
        t = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        s = Sampler(p.pid, args.every)
        err = p.communicate()[1]
        s.close()
        wall = time.perf_counter() - t
        if p.returncode not in (0, 1) or not out.exists():
            raise SystemExit(f"hpsearch coarse --jobs {jobs} failed ({p.returncode}): {err.strip()[-500:]}")
        doc = json.loads(out.read_text())
    outcome = [(t["number"], t["status"], t["val_acc"], t["final_loss"]) for t in doc["trials"]]
    return {"jobs": jobs, "share": share, "wall": wall, "peak": s.peak, "at_peak_pss": s.at_peak_pss,
            "processes": s.procs, "samples": s.samples, "outcome": outcome}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=50_000)
    ap.add_argument("--features", type=int, default=3_072)
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--hidden", default="16")
    ap.add_argument("--lr", type=float, default=1e-3, help="fixed, so no trial aborts early")
    ap.add_argument("--every", type=float, default=0.05, help="seconds between samples")
    ap.add_argument("--json", dest="json_out", default=None, help="also write the figures to this file")
    args = ap.parse_args()

    data_mb = args.samples * args.features * 4 / MB
    budget = 1.5 * data_mb + 300
    configs = [(1, True), (2, True), (2, False)]
    print(f"# hpsearch memory benchmark: {args.samples:,} x {args.features:,} uint8 .npy pair "
          f"({args.samples * args.features / MB:.1f} MB; {data_mb:.1f} MB as float32), {args.trials} trials, "
          f"{args.epochs} epoch(s), hidden {args.hidden}; budget 1.5 x {data_mb:.1f} + 300 = {budget:.1f} MB")
    print(f"# {H.machine_line(1)}")
    runs, reference = [], None
    with tempfile.TemporaryDirectory(prefix="bench-memory-data-") as d:
        x = make_data(Path(d), args.samples, args.features, 10)
        for jobs, share in configs:
            res = run_once(x, jobs, share, args)
            if reference is None:
                reference = res["outcome"]
            if res["outcome"] != reference:
                raise SystemExit(f"--jobs {jobs} (shared {share}) gave other trials or values than the first run")
            runs.append(res)
            print(f"--jobs {jobs} shared split {('on' if share else 'off') if jobs > 1 else '-'}: peak PSS {res['peak']['Pss'] / MB:.1f} MB, "
                  f"peak RSS {res['peak']['Rss'] / MB:.1f} MB, {res['processes']} processes, "
                  f"{res['samples']} samples, {res['wall']:.1f} s", flush=True)

    def row(r: dict) -> list[str]:
        at = r["at_peak_pss"]
        return [f"--jobs {r['jobs']}", ("on" if r["share"] else "off") if r["jobs"] > 1 else "-",
                str(r["processes"]), f"{r['peak']['Pss'] / MB:,.1f}", f"{r['peak']['Rss'] / MB:,.1f}",
                f"{at.get('Pss_Anon', 0) / MB:,.1f} / {at.get('Pss_Shmem', 0) / MB:,.1f} / {at.get('Pss_File', 0) / MB:,.1f}",
                f"{budget:,.1f}", "yes" if r["peak"]["Pss"] <= budget * MB else "no", f"{r['wall']:.1f}"]

    print()
    print(H.table(["run", "shared split", "processes", "peak PSS MB", "peak RSS MB (sum)",
                   "at PSS peak: anon / shmem / file MB", "budget MB", "PSS within", "wall s"],
                  [row(r) for r in runs]))
    print(f"\n(same trials and values in every run: yes; sampled every {args.every * 1000:.0f} ms)")
    print(H.command_line())
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"args": vars(args), "data_mb": data_mb, "budget_mb": budget,
                                                   "runs": [{k: v for k, v in r.items() if k != "outcome"}
                                                            for r in runs]}, indent=1))


if __name__ == "__main__":
    main()
