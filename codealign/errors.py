"""The one exception type for user errors (bad input, missing files, unknown names).

The CLI prints its message on one line and exits non-zero, without a traceback. Code at the sandbox boundary
never raises it for a candidate's failure: that is an ``ExecResult`` verdict.
"""


class UserError(Exception):
    """A problem with what the user gave us; the message names the input and what is wrong with it."""


def closest(name: str, choices) -> str:
    """The end of an "unknown X" message: ``; did you mean 'Y'?`` for the choice closest to ``name``, else
    ``; choose one of: ...``."""
    import difflib

    choices = [str(c) for c in choices]
    near = difflib.get_close_matches(str(name), choices, n=1, cutoff=0.5)
    return f"; did you mean {near[0]!r}?" if near else f"; choose one of: {', '.join(choices)}"
