"""A tiny arithmetic expression language: tokenizer, Pratt parser and evaluator."""

from exprcalc.errors import CalcError, EvalError, SyntaxErr
from exprcalc.evaluator import Evaluator, calc
from exprcalc.parser import parse

__all__ = ["CalcError", "EvalError", "SyntaxErr", "Evaluator", "calc", "parse"]
