"""A small INI configuration reader with typed getters and ${...} interpolation."""

from iniconf.config import Config, load, loads
from iniconf.errors import ConfigError, InterpolationError, MissingOptionError, ParseError

__all__ = ["Config", "load", "loads", "ConfigError", "InterpolationError", "MissingOptionError", "ParseError"]
