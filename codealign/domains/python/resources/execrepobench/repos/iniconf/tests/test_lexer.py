import pytest

from iniconf.errors import ParseError
from iniconf.lexer import split_option, strip_inline_comment, tokenize


def test_sections_and_options_are_tokenized_in_order():
    tokens = tokenize("[server]\nhost = example.org\nPort: 8080\n")
    assert [(t.kind, t.name, t.value) for t in tokens] == [
        ("section", "server", ""), ("option", "host", "example.org"), ("option", "port", "8080")]


def test_comments_and_blank_lines_are_skipped():
    tokens = tokenize("# top\n\n[a]\n; note\nx = 1\n")
    assert [t.kind for t in tokens] == ["section", "option"]
    assert tokens[1].lineno == 5


def test_inline_comment_needs_a_space_before_the_marker():
    assert strip_inline_comment("value ; comment") == "value"
    assert strip_inline_comment("a#b") == "a#b"
    assert strip_inline_comment("x # y ; z") == "x"


def test_split_option_uses_the_first_delimiter():
    assert split_option("url = http://h:80/x", 1) == ("url", "http://h:80/x")
    assert split_option("Key: a=b", 1) == ("key", "a=b")


def test_continuation_lines_follow_an_option():
    tokens = tokenize("[a]\nitems =\n    one\n    two ; c\n")
    assert [(t.kind, t.value) for t in tokens[1:]] == [("option", ""), ("continuation", "one"), ("continuation", "two")]


@pytest.mark.parametrize("text, message", [
    ("[a\n", "unterminated section header"),
    ("[ ]\n", "empty section name"),
    ("[a]\nnovalue\n", "expected 'key = value'"),
    ("[a]\n= 3\n", "empty option name"),
    ("  indented\n", "continuation line without an option"),
])
def test_malformed_lines_raise_parse_error_with_line_number(text, message):
    with pytest.raises(ParseError) as info:
        tokenize(text)
    assert message in str(info.value)
    assert info.value.lineno == text.count("\n")
