"""Errors that reach users: one line, naming what is wrong."""

from __future__ import annotations


class LroxInputError(ValueError):
    """Bad user input (host name, file, element, sublattice, number...).

    The command line prints ``str(error)`` on one line and exits non-zero;
    library users catch it like any ``ValueError``.
    """
