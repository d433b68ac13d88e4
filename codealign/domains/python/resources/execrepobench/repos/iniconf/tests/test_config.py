import pytest

from iniconf import Config, InterpolationError, MissingOptionError, ParseError, loads

SAMPLE = """
[DEFAULT]
root = /srv
debug = no

[app]
name = demo
workers = 4
ratio = 0.75
debug = yes
data = ${root}/data
hosts = a.example, b.example ,c.example

[paths]
logs = ${app:data}/logs
cost = $$5
plugins =
    auth
    cache
"""


@pytest.fixture
def config():
    return loads(SAMPLE)


def test_sections_exclude_default(config):
    assert config.sections() == ["app", "paths"]
    assert config.has_section("DEFAULT")


def test_typed_getters(config):
    assert config.get("app", "name") == "demo"
    assert config.getint("app", "workers") == 4
    assert config.getfloat("app", "ratio") == 0.75
    assert config.getboolean("app", "debug") is True
    assert config.getboolean("paths", "debug") is False


def test_defaults_are_inherited_and_listed_first(config):
    assert config.get("paths", "root") == "/srv"
    assert config.options("app")[:2] == ["root", "debug"]
    assert "name" in config.options("app")
    assert config.has_option("paths", "ROOT")
    assert not config.has_option("paths", "name")


def test_interpolation_within_and_across_sections(config):
    assert config.get("app", "data") == "/srv/data"
    assert config.get("paths", "logs") == "/srv/data/logs"
    assert config.raw("paths", "logs") == "${app:data}/logs"


def test_dollar_escape(config):
    assert config.get("paths", "cost") == "$5"


def test_lists_from_commas_and_lines(config):
    assert config.getlist("app", "hosts") == ["a.example", "b.example", "c.example"]
    assert config.getlist("paths", "plugins") == ["auth", "cache"]


def test_fallback_is_returned_only_when_missing(config):
    assert config.get("app", "missing", fallback="x") == "x"
    assert config.getint("app", "missing", fallback=None) is None
    assert config.getint("app", "workers", fallback=1) == 4
    with pytest.raises(MissingOptionError):
        config.get("app", "missing")


def test_missing_option_error_is_a_key_error(config):
    with pytest.raises(KeyError):
        config.raw("nosuch", "x")


def test_bad_boolean_raises_value_error(config):
    with pytest.raises(ValueError):
        config.getboolean("app", "name")


def test_circular_reference_is_detected():
    config = loads("[a]\nx = ${y}\ny = ${x}\n")
    with pytest.raises(InterpolationError) as info:
        config.get("a", "x")
    assert "circular" in str(info.value)


def test_unknown_reference_is_reported():
    config = loads("[a]\nx = ${nope}\n")
    with pytest.raises(InterpolationError) as info:
        config.get("a", "x")
    assert "${nope}" in str(info.value)


def test_set_remove_and_items():
    config = loads("[s]\na = 1\n")
    config.set("s", "B", 2)
    assert config.items("s") == [("a", "1"), ("b", "2")]
    assert config.remove_option("s", "a") is True
    assert config.remove_option("s", "a") is False
    with pytest.raises(ValueError):
        config.add_section("s")


def test_update_overrides_and_adds(config):
    other = loads("[app]\nworkers = 8\n[extra]\nk = v\n")
    config.update(other)
    assert config.getint("app", "workers") == 8
    assert config.get("extra", "k") == "v"
    assert config.get("app", "name") == "demo"


def test_round_trip_through_to_string(config):
    again = loads(config.to_string())
    for section in config.sections():
        assert again.items(section) == config.items(section)


def test_empty_config_serialises_to_newline():
    assert Config().to_string() == "\n"


def test_duplicate_section_and_orphan_option_are_errors():
    with pytest.raises(ParseError):
        loads("[a]\n[a]\n")
    with pytest.raises(ParseError):
        loads("x = 1\n")
