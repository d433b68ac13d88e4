class ConfigError(Exception):
    """Base class of every error raised by iniconf."""


class ParseError(ConfigError):
    def __init__(self, lineno, message):
        super().__init__(f"line {lineno}: {message}")
        self.lineno = lineno
        self.message = message


class MissingOptionError(ConfigError, KeyError):
    def __init__(self, section, option):
        super().__init__(f"no option {option!r} in section {section!r}")
        self.section = section
        self.option = option

    def __str__(self):
        return self.args[0]


class InterpolationError(ConfigError):
    def __init__(self, section, option, message):
        super().__init__(f"[{section}] {option}: {message}")
        self.section = section
        self.option = option
