"""Expands ${option} and ${section:option} references inside values."""

import re

from iniconf.errors import InterpolationError

REFERENCE = re.compile(r"\$\{([^}]*)\}")
MAX_DEPTH = 10


def split_reference(ref, section):
    if ":" in ref:
        other, option = ref.split(":", 1)
        return other.strip(), option.strip().lower()
    return section, ref.strip().lower()


def expand(raw_lookup, section, option, value, depth=0, seen=None):
    """Returns ``value`` with every reference replaced; ``raw_lookup(section, option)`` gives raw values."""
    seen = set() if seen is None else seen
    if depth > MAX_DEPTH:
        raise InterpolationError(section, option, "references nested too deeply")
    key = (section, option)
    if key in seen:
        raise InterpolationError(section, option, "circular reference")
    seen = seen | {key}

    def replace(match):
        ref_section, ref_option = split_reference(match.group(1), section)
        try:
            raw = raw_lookup(ref_section, ref_option)
        except KeyError:
            raise InterpolationError(section, option, f"unknown reference ${{{match.group(1)}}}") from None
        return expand(raw_lookup, ref_section, ref_option, raw, depth + 1, seen)

    return REFERENCE.sub(replace, value.replace("$$", "\0")).replace("\0", "$")
