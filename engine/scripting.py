"""Sandboxed scripts and conditions for SpiffWorkflow (DESIGN decision 7).

SpiffWorkflow's default environment is plain `eval`/`exec`: a condition could `__import__('os')`. Here every script,
condition and timer expression is compiled with RestrictedPython, which rewrites attribute access, item writes,
iteration and augmented assignment into calls to guard functions and refuses names and attributes starting with `_`.
On top of its policy we refuse imports, class definitions and calls to introspection builtins at compile time, so
that `check_expression` can tell a process designer about them before deployment.

Task data semantics are those of SpiffWorkflow's `TaskDataEnvironment`: a script runs directly in the task's data
dict, so assignments and mutations stay in the data, while builtins, functions and the external context are removed
again afterwards.

With `ScriptLimits` (the app always passes them) scripts do not run in this process: engine/script_runner.py runs
them in a child process under a CPU-time, memory and result-size limit, with the same compile policy and guards, and
whitelisted functions called back in this process. Without limits (unit tests, offline tools) they run here.
Error messages name the line and the exception, never more task data than the exception's own text, and mask
anything shaped like an ID number.
"""
from __future__ import annotations

import ast
import builtins
import copy
import functools
import operator
import re
import textwrap
from collections.abc import Callable, Mapping
from types import CodeType
from typing import Any, Literal

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr_raise,
)
from RestrictedPython.PrintCollector import PrintCollector
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import BasePythonScriptEngineEnvironment, PythonScriptEngine
from SpiffWorkflow.exceptions import SpiffWorkflowException

from .errors import ScriptError
from .script_runner import ScriptLimits, ScriptRaised, run_script

Mode = Literal["eval", "exec"]

# Tracebacks of sandboxed code carry this file name, so a runtime error can be traced to its script line.
SCRIPT_FILENAME = "<bpmn-script>"

_EXTRA_BUILTINS = (
    "len", "min", "max", "sum", "round", "abs", "int", "float", "str", "bool", "list", "dict", "set", "tuple",
    "sorted", "any", "all", "range", "enumerate", "zip", "isinstance",
)

# Not provided at run time anyway; refusing the call at compile time gives the designer a message up front.
_FORBIDDEN_CALLS = frozenset({
    "open", "getattr", "setattr", "delattr", "hasattr", "vars", "dir", "globals", "locals", "type", "compile",
    "breakpoint", "input", "help", "exit", "quit", "memoryview", "super", "object", "classmethod",
    "staticmethod", "property",
})

_INPLACE_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "<<=": operator.ilshift,
    ">>=": operator.irshift, "|=": operator.ior, "^=": operator.ixor, "&=": operator.iand,
    "@=": operator.imatmul,
}

_COMPILE_CACHE_SIZE = 4096


class SandboxViolation(ScriptError):
    """A script the sandbox refuses to compile; `line_number` is 0 when unknown."""

    def __init__(self, message: str, line_number: int = 0):
        super().__init__(message)
        self.line_number = line_number


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, stricter where BPMN scripts never need the construct."""

    def visit_Import(self, node: ast.Import) -> ast.AST:
        self.error(node, "不允许导入模块")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        self.error(node, "不允许导入模块")
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.error(node, "不允许定义类")
        return node

    def visit_Call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Name) and node.func.id in _FORBIDDEN_CALLS:
            self.error(node, f"不允许调用 {node.func.id}()")
        return super().visit_Call(node)


# RestrictedPython reports in English ("Line 3: ..."); designers read Chinese.
_TRANSLATIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r'"(?P<n>[^"]*)" is an invalid variable name because it starts with "_"'),
     "不允许使用以下划线开头的名称 {n}"),
    (re.compile(r'"(?P<n>[^"]*)" is an invalid attribute name because it starts with "_"'),
     "不允许访问以下划线开头的属性 {n}"),
    (re.compile(r'"(?P<n>[^"]*)" is an invalid (?:variable|attribute) name because it ends with "__roles__"'),
     "不允许使用名称 {n}"),
    (re.compile(r'"(?P<n>[^"]*)" is a restricted name'), "不允许访问属性 {n}"),
    (re.compile(r'"(?P<n>[^"]*)" is a reserved name'), "{n} 是保留名称，不能使用"),
    (re.compile(r"Exec calls are not allowed"), "不允许调用 exec()"),
    (re.compile(r"Eval calls are not allowed"), "不允许调用 eval()"),
    (re.compile(r"(?P<n>\w+) statements are not allowed"), "不允许使用 {n} 语句"),
    (re.compile(r"Augmented assignment of attributes"), "不允许对属性做增量赋值"),
    (re.compile(r"Augmented assignment of object items"), "不允许对元素做增量赋值（请写成 x[k] = x[k] + 1）"),
    (re.compile(r"Unpacking in comprehensions"), "推导式中不允许解包"),
    (re.compile(r'"\*" imports are not allowed'), "不允许导入模块"),
    (re.compile(r"\w*Error: (?P<n>.*?) at statement: .*", re.S), "语法错误：{n}"),
]
_LINE = re.compile(r"^Line (?P<line>\d+|None): (?P<info>.*)$", re.S)


def _humanize(error: str) -> tuple[str, int]:
    """One RestrictedPython error as a Chinese sentence and its line number (0 if unknown)."""
    line = 0
    info = error
    match = _LINE.match(error)
    if match:
        info = match["info"]
        line = int(match["line"]) if match["line"] != "None" else 0
    for pattern, template in _TRANSLATIONS:
        found = pattern.search(info)
        if found:
            info = template.format(**found.groupdict())
            break
    return (f"第{line}行：{info}" if line else info), line


def _normalize(source: str, mode: Mode) -> str:
    # Python's eval() strips a string's surrounding whitespace itself; compile() does not. Scripts copied out of
    # indented XML keep their common indentation, which would be an IndentationError.
    return source.strip() if mode == "eval" else textwrap.dedent(source)


@functools.lru_cache(maxsize=_COMPILE_CACHE_SIZE)
def _compile(source: str, mode: Mode) -> tuple[CodeType | None, str | None, int]:
    """(code, None, 0) or (None, message, line). Refusals are cached too: the same bad script fails the same way."""
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    try:
        result = compiler(_normalize(source, mode), SCRIPT_FILENAME, policy=_Policy)
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError) as exc:
        # e.g. null bytes in the source, or nesting deep enough to exhaust the compiler.
        return None, f"无法编译：{exc.__class__.__name__}: {exc}", 0
    if result.errors:
        messages = [_humanize(error) for error in result.errors]
        # One construct can be reported several times (each `__x__` of a chain); say each thing once.
        unique = list(dict.fromkeys(message for message, _ in messages))
        return None, "；".join(unique), messages[0][1]
    if result.code is None:  # pragma: no cover - RestrictedPython returns errors whenever it has no code
        return None, "无法编译", 0
    return result.code, None, 0


def compile_sandboxed(source: Any, mode: Mode) -> CodeType:
    """Restricted bytecode for `source`, or SandboxViolation saying why it is refused."""
    if not isinstance(source, str) or not source.strip():
        raise SandboxViolation("表达式为空" if mode == "eval" else "脚本为空")
    code, message, line = _compile(source, mode)
    if code is None:
        raise SandboxViolation(message or "无法编译", line)
    return code


def check_expression(source: str, mode: Mode) -> str | None:
    """Why the sandbox would refuse `source` at compile time, in words for a designer; None if it compiles."""
    try:
        compile_sandboxed(source, mode)
    except SandboxViolation as exc:
        return str(exc)
    return None


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    try:
        return _INPLACE_OPERATORS[op](target, value)
    except KeyError:
        raise ScriptError(f"不支持的运算 {op}") from None


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def _builtins() -> dict[str, Any]:
    allowed = dict(safe_builtins)
    for name in _EXTRA_BUILTINS:
        allowed[name] = getattr(builtins, name)
    return allowed


# The names RestrictedPython's rewritten code calls. Scripts cannot name them (leading underscore), so task data
# can never shadow them; they are still re-applied last when a namespace is assembled.
_GUARDS: dict[str, Any] = {
    "__builtins__": _builtins(),
    # The `_raise` variant: plain safer_getattr answers None for a misspelt attribute instead of failing.
    "_getattr_": safer_getattr_raise,
    "_getitem_": operator.getitem,
    "_getiter_": iter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
    "_apply_": _apply,
    "_print_": PrintCollector,
}


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """Evaluates and executes through RestrictedPython with whitelisted `functions` in scope."""

    def __init__(self, functions: Mapping[str, Callable[..., Any]] | None = None,
                 limits: ScriptLimits | None = None):
        functions = dict(functions or {})
        for name in functions:
            if not name.isidentifier() or name.startswith("_"):
                raise ValueError(f"script function name {name!r} must be an identifier without a leading '_'")
        self.functions = functions
        # None: run in this process, unlimited. Tests may swap it on a live engine.
        self.limits = limits
        super().__init__({**functions, **_GUARDS})

    def evaluate(self, expression, context, external_context=None):
        code = compile_sandboxed(expression, "eval")
        if self.limits is not None:
            return run_script("eval", expression, context, external_context, self.functions, self.limits)["value"]
        namespace = copy.copy(self.globals)
        namespace.update(external_context or {})
        namespace.update(context)
        namespace.update(_GUARDS)
        return eval(code, namespace)

    def execute(self, script, context, external_context=None):
        code = compile_sandboxed(script, "exec")
        external_context = external_context or {}
        self.check_for_overwrite(context, external_context)
        if self.limits is not None:
            result = run_script("exec", script, context, external_context, self.functions, self.limits)["data"]
            context.clear()
            context.update(result)
            return True
        names_before = set(context)
        namespace = copy.copy(self.globals)
        namespace.update(external_context)
        context.update(namespace)
        try:
            exec(code, context)
        finally:
            self._remove_globals_and_functions_from_context(context, external_context, names_before)
        return True

    def call_service(self, context, **kwargs):
        raise ScriptError("沙箱环境不支持服务任务（serviceTask）")

    def _remove_globals_and_functions_from_context(self, context, external_context, names_before=frozenset()):
        # As TaskDataEnvironment: drop builtins, anything callable, the globals and the external context. Also drop
        # the helper variables RestrictedPython's rewriting introduces (`_print`, `_tmp0`...), which only it can
        # name; an underscore key that was already in the data is left alone.
        for key in list(context):
            if (
                key == "__builtins__"
                or callable(context[key])
                or key in self.globals
                or key in external_context
                or (isinstance(key, str) and key.startswith("_") and key not in names_before)
            ):
                context.pop(key)

    def check_for_overwrite(self, context, external_context):
        # Same rule as TaskDataEnvironment: a data key named like a function would make the function uncallable.
        clashes = set(self.globals).intersection(context) | set(external_context).intersection(context)
        if clashes:
            raise ValueError(
                f"任务数据中的变量与可调用函数同名，请改名：{', '.join(sorted(clashes))}"
            )


class SandboxedScriptEngine(PythonScriptEngine):
    """PythonScriptEngine whose error reports survive any exception a sandboxed script can raise.

    SpiffWorkflow's own formatter concatenates `err.args[0]` (TypeError for `KeyError(1)`) and indexes the script
    by a SyntaxError's `lineno` (TypeError when it is None); this one always produces a WorkflowTaskException.
    """

    environment: RestrictedEnvironment

    def evaluate(self, task, expression, external_context=None):
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as exc:
            exc.add_note(f"表达式求值失败：{expression!r}")
            raise
        except Exception as exc:
            raise WorkflowTaskException(
                mask_identifiers(f"表达式求值失败：{expression!r}：{_describe(exc)}"), task=task, exception=exc
            ) from exc

    def call_service(self, task, **kwargs):
        # The base class refers to an undefined `script` when the call fails (NameError); report it properly.
        try:
            return self.environment.call_service(task.data, **kwargs)
        except Exception as exc:
            raise WorkflowTaskException(_describe(exc), task=task, exception=exc) from exc

    def create_task_exec_exception(self, task, script, err):
        line_number, error_line = _locate(script, err)
        if isinstance(err, SpiffWorkflowException):
            err.line_number = line_number  # type: ignore[attr-defined]
            err.error_line = error_line  # type: ignore[attr-defined]
            err.add_note(f"脚本第 {line_number} 行出错：{error_line!r}")
            return err
        message = _describe(err)
        if line_number and not isinstance(err, SandboxViolation):
            message = f"第 {line_number} 行：{message}"
        return WorkflowTaskException(
            message, task=task, exception=err, line_number=line_number, error_line=error_line
        )


# Error texts can quote task data (`int('…')`, a KeyError's key): never a whole ID number, never a page of data.
_ID_NUMBER = re.compile(r"(\d{6})\d{8}(\d{3}[\dXx])")
_MAX_MESSAGE = 500


def mask_identifiers(text: str) -> str:
    """`text` with every 18-character ID number shown as its first 6 and last 4 characters, stars between."""
    return _ID_NUMBER.sub(lambda m: f"{m[1]}********{m[2]}", text)


def _describe(err: BaseException) -> str:
    if isinstance(err, (ScriptError, ScriptRaised)):
        text = str(err)
    else:
        text = f"{err.__class__.__name__}: {err}"
    # Mask first: cutting first could split an ID number so that the mask no longer recognises what is left of it.
    text = mask_identifiers(text)
    if len(text) > _MAX_MESSAGE:
        text = text[:_MAX_MESSAGE] + "…"
    return text


def _locate(script: Any, err: BaseException) -> tuple[int, str]:
    """Line number and text of the script line that failed, (0, '') when unknown."""
    line = 0
    if isinstance(err, (SandboxViolation, ScriptRaised)):
        line = err.line_number
    elif getattr(err, "script_line_number", 0):
        line = err.script_line_number  # type: ignore[attr-defined]
    elif isinstance(err, SyntaxError):
        line = err.lineno or 0
    else:
        tb = err.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == SCRIPT_FILENAME:
                line = tb.tb_lineno
            tb = tb.tb_next
    lines = _normalize(script, "exec").splitlines() if isinstance(script, str) else []
    if 0 < line <= len(lines):
        return line, lines[line - 1]
    return 0, ""


def make_script_engine(functions: Mapping[str, Callable[..., Any]] | None = None,
                       limits: ScriptLimits | None = None) -> SandboxedScriptEngine:
    """A script engine for BpmnWorkflow that runs scripts in the sandbox with `functions` callable from them; with
    `limits`, in a runner process under those CPU, memory and result-size limits."""
    return SandboxedScriptEngine(environment=RestrictedEnvironment(functions, limits))
