"""Safe evaluation of branch-map expressions and selections.

Text from a config is parsed with :mod:`ast` and walked node by node; it is never given to
``eval``. Only arithmetic, comparisons, ``and``/``or``/``not`` (element-wise), bitwise
``& | ~``, numeric constants, branch names and a whitelist of NumPy/awkward functions are
allowed (issue 10: untrusted configs). Values are NumPy or awkward arrays; NumPy ufuncs
dispatch to awkward for jagged branches, so ``Electron_pt / MET_pt`` broadcasts per event.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import awkward as ak
import numpy as np

from egml.data.errors import DataError, closest

MAX_EXPRESSION_LENGTH = 2000  # characters; a guard against pathological config text


def _where(condition: Any, a: Any, b: Any) -> Any:
    if any(isinstance(x, ak.Array) for x in (condition, a, b)):
        return ak.where(condition, a, b)
    return np.where(condition, a, b)


def _num(x: Any) -> Any:
    """Number of objects per entry of a jagged array (``ak.num(x, axis=1)``)."""
    return ak.to_numpy(ak.num(x, axis=1)) if isinstance(x, ak.Array) else np.full(len(x), x.shape[1])


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": np.abs,
    "sqrt": np.sqrt,
    "log": np.log,
    "log10": np.log10,
    "exp": np.exp,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "arcsinh": np.arcsinh,
    "arctan": np.arctan,
    "arctan2": np.arctan2,
    "hypot": np.hypot,
    "minimum": np.minimum,
    "maximum": np.maximum,
    "floor": np.floor,
    "sign": np.sign,
    "isfinite": np.isfinite,
    "isnan": np.isnan,
    "where": _where,
    "num": _num,
}
CONSTANTS: dict[str, float] = {"pi": float(np.pi)}

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
}
_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
    ast.Not: np.logical_not,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_ALLOWED = (
    "arithmetic (+ - * / // % **), comparisons, and/or/not, & | ~, numbers, branch names, "
    f"functions {sorted(FUNCTIONS)}"
)


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, AST and the branch names it reads."""

    text: str
    tree: ast.Expression
    names: tuple[str, ...]

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        """Evaluate on ``values`` (branch name → array)."""
        missing = [n for n in self.names if n not in values]
        if missing:
            raise DataError(
                f"expression {self.text!r} uses unknown name {missing[0]!r}; {closest(missing[0], values)}"
            )
        return _Evaluator(values, self.text).visit(self.tree.body)


@lru_cache(maxsize=512)
def parse_expression(text: str) -> Expression:
    """Parse and validate ``text``; raise :class:`DataError` on anything outside the whitelist."""
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"expression {text!r} is empty; expected e.g. 'abs(y_eta) < 2.37'")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise DataError(f"expression of {len(text)} characters is too long; limit {MAX_EXPRESSION_LENGTH}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise DataError(f"expression {text!r} is not valid syntax ({exc.msg}); allowed: {_ALLOWED}") from None
    names: list[str] = []
    for node in ast.walk(tree):
        _check_node(node, text)
        if isinstance(node, ast.Name) and node.id not in FUNCTIONS and node.id not in CONSTANTS:
            if node.id not in names:
                names.append(node.id)
    return Expression(text=text, tree=tree, names=tuple(names))


def _check_node(node: ast.AST, text: str) -> None:
    ok = (
        ast.Expression,
        ast.BinOp,
        ast.UnaryOp,
        ast.BoolOp,
        ast.Compare,
        ast.Call,
        ast.Name,
        ast.Constant,
        ast.Load,
        ast.And,
        ast.Or,
        *_BINARY,
        *_UNARY,
        *_COMPARE,
    )
    if not isinstance(node, ok):
        raise DataError(
            f"expression {text!r} uses disallowed syntax {type(node).__name__!r}; allowed: {_ALLOWED}"
        )
    if isinstance(node, ast.Constant) and (
        isinstance(node.value, str | bytes) or not isinstance(node.value, int | float | bool)
    ):
        raise DataError(f"expression {text!r} has constant {node.value!r}; only numbers are allowed")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else ast.dump(node.func)[:40]
            raise DataError(
                f"expression {text!r} calls {name!r}, which is not allowed; allowed functions: {sorted(FUNCTIONS)}"
            )
        if node.keywords:
            raise DataError(f"expression {text!r}: keyword arguments are not allowed in {node.func.id}()")


class _Evaluator(ast.NodeVisitor):
    def __init__(self, values: Mapping[str, Any], text: str) -> None:
        self.values = values
        self.text = text

    def visit_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in FUNCTIONS:
            raise DataError(f"expression {self.text!r} uses function {node.id!r} without calling it")
        return self.values[node.id]

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Pow) and isinstance(left, int | float) and isinstance(right, int | float):
            with np.errstate(over="ignore"):  # float power: no big-int blow-up on constants
                return float(np.power(np.float64(left), np.float64(right)))
        return _BINARY[type(node.op)](left, right)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        return _UNARY[type(node.op)](self.visit(node.operand))

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        result = self.visit(node.values[0])
        for value in node.values[1:]:
            result = combine(result, self.visit(value))
        return result

    def visit_Compare(self, node: ast.Compare) -> Any:
        result = None
        left = self.visit(node.left)
        for op, comparator in zip(node.ops, node.comparators):
            right = self.visit(comparator)
            term = _COMPARE[type(op)](left, right)
            result = term if result is None else np.logical_and(result, term)
            left = right
        return result

    def visit_Call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)
        args = [self.visit(a) for a in node.args]
        try:
            return FUNCTIONS[node.func.id](*args)
        except TypeError as exc:
            raise DataError(f"expression {self.text!r}: {node.func.id}() {exc}") from None

    def generic_visit(self, node: ast.AST) -> Any:  # pragma: no cover - rejected at parse time
        raise DataError(f"expression {self.text!r} uses disallowed syntax {type(node).__name__!r}")
