"""The Config object: sections of options, typed getters, defaults and serialisation."""

from iniconf.errors import MissingOptionError, ParseError
from iniconf.interpolate import expand
from iniconf.lexer import tokenize

DEFAULT_SECTION = "DEFAULT"
TRUE_WORDS = {"1", "yes", "true", "on"}
FALSE_WORDS = {"0", "no", "false", "off"}
_MISSING = object()


class Config:
    def __init__(self):
        self._sections = {DEFAULT_SECTION: {}}

    def sections(self):
        return [name for name in self._sections if name != DEFAULT_SECTION]

    def has_section(self, section):
        return section in self._sections

    def add_section(self, section):
        if section in self._sections:
            raise ValueError(f"section {section!r} already exists")
        self._sections[section] = {}

    def options(self, section):
        self._require_section(section)
        names = list(self._sections[DEFAULT_SECTION])
        names += [n for n in self._sections[section] if n not in names]
        return names

    def has_option(self, section, option):
        option = option.lower()
        return option in self._sections.get(section, {}) or option in self._sections[DEFAULT_SECTION]

    def raw(self, section, option):
        self._require_section(section)
        option = option.lower()
        if option in self._sections[section]:
            return self._sections[section][option]
        if option in self._sections[DEFAULT_SECTION]:
            return self._sections[DEFAULT_SECTION][option]
        raise MissingOptionError(section, option)

    def get(self, section, option, fallback=_MISSING):
        try:
            value = self.raw(section, option)
        except MissingOptionError:
            if fallback is _MISSING:
                raise
            return fallback
        return expand(self.raw, section, option.lower(), value)

    def getint(self, section, option, fallback=_MISSING):
        value = self.get(section, option, fallback)
        return value if value is fallback else int(value)

    def getfloat(self, section, option, fallback=_MISSING):
        value = self.get(section, option, fallback)
        return value if value is fallback else float(value)

    def getboolean(self, section, option, fallback=_MISSING):
        value = self.get(section, option, fallback)
        if value is fallback:
            return value
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"[{section}] {option}: not a boolean: {value!r}")

    def getlist(self, section, option, separator=",", fallback=_MISSING):
        value = self.get(section, option, fallback)
        if value is fallback:
            return value
        items = value.splitlines() if "\n" in value else value.split(separator)
        return [item.strip() for item in items if item.strip()]

    def set(self, section, option, value):
        self._require_section(section)
        self._sections[section][option.lower()] = str(value)

    def remove_option(self, section, option):
        self._require_section(section)
        return self._sections[section].pop(option.lower(), None) is not None

    def items(self, section):
        return [(name, self.get(section, name)) for name in self.options(section)]

    def update(self, other):
        for section in [DEFAULT_SECTION] + other.sections():
            if not self.has_section(section):
                self.add_section(section)
            for name, value in other._sections[section].items():
                self._sections[section][name] = value
        return self

    def to_string(self):
        blocks = []
        for section, options in self._sections.items():
            if section == DEFAULT_SECTION and not options:
                continue
            lines = [f"[{section}]"]
            for name, value in options.items():
                first, *rest = value.split("\n")
                lines.append(f"{name} = {first}")
                lines.extend(f"    {line}" for line in rest)
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks) + "\n"

    def _require_section(self, section):
        if section not in self._sections:
            raise MissingOptionError(section, "*")


def loads(text):
    config = Config()
    section = None
    last_option = None
    for token in tokenize(text):
        if token.kind == "section":
            if token.name in config._sections and token.name != DEFAULT_SECTION:
                raise ParseError(token.lineno, f"duplicate section {token.name!r}")
            config._sections.setdefault(token.name, {})
            section, last_option = token.name, None
        elif token.kind == "option":
            if section is None:
                raise ParseError(token.lineno, "option outside of any section")
            config._sections[section][token.name] = token.value
            last_option = token.name
        else:
            current = config._sections[section][last_option]
            config._sections[section][last_option] = f"{current}\n{token.value}" if current else token.value
    return config


def load(path):
    with open(path, encoding="utf-8") as fh:
        return loads(fh.read())
