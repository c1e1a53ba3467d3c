"""The plain form of a kernel path: the same source, run as ordinary calls.

A kernel path is a generator so that a scheduler can stop it at each yield point. When no
scheduler interleaves the world nothing can happen at those points, so the facade runs
the path's *plain form* instead: a function that ``@kernel_path`` compiles at import time
from the very same source, rewritten in four ways (and in no other):

* ``yield from f(...)`` with ``f`` a name: ``f.plain(...)``, the callee's plain form;
* any other ``yield from E`` (a lock's ``down_read()``: ``()`` when the lock is free, else
  the generator that waits): ``complete(E)``, which runs it here (as a statement, only
  when E is not ``()``);
* ``yield P``: dropped when ``P`` names a module-level :class:`Point` (a preemption point
  where, with no scheduler, nothing else can run), else ``step(P)``; a ``Blocked`` that
  is not ready raises :class:`WouldBlock` (run_to_completion turns it into the error a
  blocked path gets when nothing else is running);
* an ``if`` that has nothing left in it (``if w.interleaved: yield _POINT``) is dropped.

The source stays the one place a path is written. The generator form is the decorated
function itself, unchanged: the scheduler only ever runs that, so every yield point, and
every schedule, is where the source puts it. ``tests/test_plain.py`` checks that both
forms leave identical worlds.
"""

import ast
import inspect
import textwrap

from .points import Blocked, Point

__all__ = ["kernel_path", "complete", "step", "WouldBlock"]


class WouldBlock(Exception):
    """A plain form met a ``Blocked`` that is not ready: with no scheduler it never will be."""

    def __init__(self, event):
        super().__init__(event.label)
        self.event = event


def step(ev):
    """A yield point of a plain form: only a ``Blocked`` whose resource is held matters."""
    if ev.__class__ is Blocked and not ev.ready():
        raise WouldBlock(ev)


def complete(it):
    """Run a generator form (or the ``()`` of a free lock) to its end, here; its result."""
    if it.__class__ is tuple:
        return None
    send = it.send
    try:
        while True:
            step(send(None))
    except StopIteration as stop:
        return stop.value
    except WouldBlock:
        it.close()  # as run_to_completion closes the whole chain: finally blocks run
        raise


_COMPLETE, _STEP, _WAIT = "_kernel_path_complete", "_kernel_path_step", "_kernel_path_wait"


class _PlainForm(ast.NodeTransformer):
    def __init__(self, namespace):
        self.namespace = namespace

    def visit_YieldFrom(self, node):
        self.generic_visit(node)
        call = node.value
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name):
            call.func = ast.Attribute(call.func, "plain", ast.Load())
            return call
        return ast.Call(ast.Name(_COMPLETE, ast.Load()), [call], [])

    def visit_Yield(self, node):
        raise TypeError(f"line {node.lineno}: a kernel path yields only as a statement")

    def visit_Expr(self, node):
        value = node.value
        if isinstance(value, ast.YieldFrom) and not isinstance(
            getattr(value.value, "func", None), ast.Name
        ):
            # a statement: "if (wait := E): complete(wait)" saves a call on a free lock
            wait = ast.NamedExpr(ast.Name(_WAIT, ast.Store()), self.visit(value.value))
            done = ast.Call(ast.Name(_COMPLETE, ast.Load()), [ast.Name(_WAIT, ast.Load())], [])
            return ast.If(wait, [ast.Expr(done)], [])
        if not isinstance(value, ast.Yield):
            return self.generic_visit(node)
        ev = node.value.value
        if isinstance(ev, ast.Name) and isinstance(self.namespace.get(ev.id), Point):
            return None
        node.value = ast.Call(ast.Name(_STEP, ast.Load()), [self.visit(ev)], [])
        return node

    def generic_visit(self, node):
        blocks = [f for f in ("body", "orelse", "finalbody") if getattr(node, f, None)]
        super().generic_visit(node)
        for field in blocks:  # a block whose statements were all dropped yields
            if not getattr(node, field):
                setattr(node, field, [ast.Pass()])
        return node

    def visit_If(self, node):
        self.generic_visit(node)
        if all(isinstance(s, ast.Pass) for s in node.body) and not node.orelse and isinstance(
            node.test, (ast.Name, ast.Attribute)
        ):
            return None
        return node


def _plain_form(f):
    if f.__code__.co_freevars:
        raise TypeError(f"{f.__qualname__}: a kernel path is a module-level function")
    lines, first = inspect.getsourcelines(f)
    fn = ast.parse(textwrap.dedent("".join(lines))).body[0]
    fn.decorator_list = []
    fn = _PlainForm(f.__globals__).visit(fn)
    if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in ast.walk(fn)):
        raise TypeError(f"{f.__qualname__}: a yield is left in its plain form")
    args = ast.arguments([], [ast.arg(_COMPLETE), ast.arg(_STEP)], None, [], [], None, [])
    factory = ast.FunctionDef("factory", args, [fn, ast.Return(ast.Name(fn.name, ast.Load()))],
                              [], None)
    module = ast.fix_missing_locations(ast.Module([factory], []))
    ast.increment_lineno(module, first - 1)
    namespace = {}
    exec(compile(module, f.__code__.co_filename, "exec"), f.__globals__, namespace)
    plain = namespace["factory"](complete, step)
    plain.__qualname__ = f"{f.__qualname__}.plain"
    return plain


def kernel_path(f):
    """Give kernel path ``f`` its plain form, ``f.plain``; ``f`` itself is unchanged.

    ``f`` is a generator function, or a function that returns ``()`` when it need not
    wait and a generator that waits otherwise (``lock_page``)."""
    if inspect.isgeneratorfunction(f):
        f.plain = _plain_form(f)
    else:
        def plain(*args):
            return complete(f(*args))

        plain.__qualname__ = f"{f.__qualname__}.plain"
        f.plain = plain
    return f
