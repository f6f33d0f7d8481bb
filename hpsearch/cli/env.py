"""The edge where the environment is read: once per command, into a config.runtime.Runtime passed down."""

from __future__ import annotations

import os

from hpsearch.config.runtime import Runtime


def runtime() -> Runtime:
    """HPSEARCH_THREADS, HPSEARCH_GRACE and HPSEARCH_SHARE_SPLIT as a Runtime record."""
    return Runtime.from_env(os.environ)
