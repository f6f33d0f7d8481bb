"""Runtime options from the environment: read once, at the edge (the CLI), and passed down as a record.

The library never reads or writes os.environ for these; a `--jobs` child gets its environment explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from hpsearch.errors import ConfigError

DEFAULT_GRACE = 30.0  # seconds without a heartbeat after which a worker's trial runs again elsewhere
GRACE_RANGE = (0.5, 86400.0)


@dataclass(frozen=True)
class Runtime:
    threads: int | None = None  # HPSEARCH_THREADS: lanes per fit (1 or 2); None: the cores available, at most 2
    grace_text: str | None = None  # HPSEARCH_GRACE as given; checked when a study needs a default grace
    share_split: bool = True  # HPSEARCH_SHARE_SPLIT=0 turns off the memory-mapped split of --jobs workers

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Runtime":
        text = env.get("HPSEARCH_THREADS")
        threads = max(1, min(int(text), 2)) if text and text.isdigit() else None
        share = env.get("HPSEARCH_SHARE_SPLIT", "1").strip().lower() not in ("0", "false", "no", "off")
        return cls(threads=threads, grace_text=env.get("HPSEARCH_GRACE") or None, share_split=share)

    def default_grace(self) -> float:
        """HPSEARCH_GRACE (seconds) or 30; ConfigError naming the variable when it is not a valid number."""
        if not self.grace_text:
            return DEFAULT_GRACE
        try:
            value = float(self.grace_text)
        except ValueError:
            raise ConfigError(f"HPSEARCH_GRACE must be a number of seconds, got {self.grace_text!r}",
                              "e.g. HPSEARCH_GRACE=60") from None
        return check_grace(value, "HPSEARCH_GRACE")


def check_grace(grace: float, source: str = "--grace") -> float:
    """`grace` if in [0.5, 86400] s, else ConfigError naming where it came from (`--grace` or the variable)."""
    if not GRACE_RANGE[0] <= grace <= GRACE_RANGE[1]:
        example = "--grace 60" if source.startswith("--") else f"{source}=60"
        raise ConfigError(f"{source} must be between 0.5 and 86400 seconds, got {grace:g}",
                          f"e.g. {example} (a heartbeat is written every grace/4 s)", key="grace")
    return float(grace)


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
