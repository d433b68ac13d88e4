"""The one exception type for user errors (bad input, missing files, unknown names).

The CLI prints its message on one line and exits non-zero, without a traceback. Code at the sandbox boundary
never raises it for a candidate's failure: that is an ``ExecResult`` verdict.
"""


class UserError(Exception):
    """A problem with what the user gave us; the message names the input and what is wrong with it."""
