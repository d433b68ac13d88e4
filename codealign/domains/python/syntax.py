"""Python's syntax for the corpus tools: tree-sitter node types of spans and definitions, and import
resolution (``import m``, ``import m as x``, ``from m import f as g``, relative imports) against the
repository's module paths (see :class:`~codealign.domains.syntax.ImportResolver`)."""

from __future__ import annotations

from pathlib import PurePosixPath

from codealign.domains.syntax import ImportResolver, Syntax, walk


def module_name(path: str) -> str:
    """Dotted module name of a repository-relative ``.py`` path (``pkg/__init__.py`` → ``pkg``)."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _text(data: bytes, node) -> str:
    return data[node.start_byte:node.end_byte].decode("utf-8", "replace")


def bindings(root, data: bytes, path: str) -> dict[str, tuple[str, str | None]]:
    """local name → (module, symbol or None for a module binding)."""
    current = module_name(path)
    package = current if path.endswith("__init__.py") else current.rpartition(".")[0]
    out: dict[str, tuple[str, str | None]] = {}
    for node in walk(root):
        if node.type == "import_statement":
            for child in node.named_children:
                if child.type == "aliased_import":
                    out[_text(data, child.child_by_field_name("alias"))] = (
                        _text(data, child.child_by_field_name("name")), None)
                elif child.type == "dotted_name":
                    dotted = _text(data, child)
                    out[dotted.split(".")[0]] = (dotted.split(".")[0], None)
        elif node.type == "import_from_statement":
            module_node = node.child_by_field_name("module_name")
            if module_node is None:
                continue
            module = _absolute(_text(data, module_node), package)
            for child in node.children_by_field_name("name"):
                if child.type == "aliased_import":
                    name = _text(data, child.child_by_field_name("name"))
                    local = _text(data, child.child_by_field_name("alias"))
                else:
                    name = local = _text(data, child)
                out[local] = (module, name)
    return out


def calls(root, data: bytes):
    """(callee text, start byte) of every call of a name or attribute (``f(...)``, ``x.f(...)``)."""
    for node in walk(root):
        if node.type != "call":
            continue
        callee = node.child_by_field_name("function")
        if callee is not None and callee.type in ("identifier", "attribute"):
            yield _text(data, callee), node.start_byte


def _absolute(module: str, package: str) -> str:
    if not module.startswith("."):
        return module
    dots = len(module) - len(module.lstrip("."))
    base = package.split(".") if package else []
    base = base[:len(base) - (dots - 1)] if dots > 1 else base
    rest = module.lstrip(".")
    return ".".join([*base, rest] if rest else base)


SYNTAX = Syntax(
    grammar="tree_sitter_python",
    extensions=(".py",),
    line_comment="#",
    expression=frozenset({
        "call", "binary_operator", "boolean_operator", "comparison_operator", "attribute", "subscript",
        "list", "dictionary", "tuple", "set", "list_comprehension", "dictionary_comprehension",
        "set_comprehension", "generator_expression", "conditional_expression", "lambda", "unary_operator",
        "not_operator", "parenthesized_expression", "await", "integer", "float", "string", "identifier"}),
    expression_parents=frozenset({
        "assignment", "augmented_assignment", "return_statement", "argument_list", "if_statement",
        "elif_clause", "while_statement", "comparison_operator", "boolean_operator", "binary_operator",
        "keyword_argument", "list", "tuple", "subscript", "conditional_expression", "for_statement",
        "assert_statement", "raise_statement", "yield", "pair"}),
    statement=frozenset({
        "expression_statement", "return_statement", "raise_statement", "assert_statement", "delete_statement",
        "break_statement", "continue_statement", "global_statement", "nonlocal_statement"}),
    block=frozenset({"block"}),
    block_parents=frozenset({
        "if_statement", "elif_clause", "else_clause", "for_statement", "while_statement", "with_statement",
        "try_statement", "except_clause", "finally_clause"}),
    function_body=frozenset({"block"}),
    function_body_parents=frozenset({"function_definition"}),
    body_inside=True,
    docstring=("expression_statement", "string"),
    definitions=frozenset({"function_definition", "class_definition"}),
    top_level_definitions=True,
    definition_wrappers=frozenset({"decorated_definition"}),
    imports=ImportResolver(module_name=module_name, bindings=bindings, calls=calls),
)
