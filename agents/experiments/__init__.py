"""Experiments built on the library: measurements, audits and figures (the library never imports them)."""
