"""Errors that reach users: one line, naming what is wrong."""

from __future__ import annotations


class LroxInputError(ValueError):
    """Bad user input (host name, file, element, sublattice, number...).

    The command line prints ``str(error)`` on one line and exits non-zero;
    library users catch it like any ``ValueError``.
    """


class LroxWarning(UserWarning):
    """Something a user must see although nothing failed: a run whose SCF did not converge, a
    structure that could not be symmetrised. The command line prints it as ``lrox: warning: ...``
    while it keeps other libraries' warnings out (LROX_SHOW_WARNINGS=1 shows those too)."""
