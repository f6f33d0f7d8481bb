"""Data: built-in sets and file formats, validation, the stratified split and its preprocessing, the split shared
by --jobs workers, and the summary `hpsearch data` shows."""
