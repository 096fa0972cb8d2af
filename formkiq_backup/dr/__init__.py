"""formkiq-dr: the recovery tool; each command lives in its own module."""
