"""Assertions shared by the CLI tests: the bad-input contract (DESIGN.md §3)."""


def assert_one_line_error(result, code, *needles, stdout_empty=True):
    """Exit `code`, exactly one stderr line 'hpsearch: error: ...' holding every needle, no traceback."""
    assert result.exit_code == code, (result.exit_code, result.stdout[-2000:], result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hpsearch: error: "), lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    for n in needles:
        assert n in lines[0], (n, lines[0])
    if stdout_empty:
        assert result.stdout == ""


def one_line_error(result, code, *needles):
    """The same for commands that may already have printed (e.g. a results document) before failing."""
    assert_one_line_error(result, code, *needles, stdout_empty=False)
