"""Show a few functions of the library in a notebook, highlighted, as the d2l book does."""
from __future__ import annotations

import inspect
import textwrap


def source(*objs) -> str:
    """The source code of functions, methods or classes, dedented, one after the other."""
    return "\n\n".join(textwrap.dedent(inspect.getsource(obj)).rstrip() for obj in objs) + "\n"


def show_source(*objs):
    """An IPython Code object (syntax highlighted in Jupyter, plain text under papermill) of `source(*objs)`."""
    from IPython.display import Code

    return Code(source(*objs), language="python")


def parameter_table(model) -> list[dict]:
    """One row per top-level part of a model: its class and trainable parameters (for `markdown_table`)."""
    rows = [{"part": name, "module": type(part).__name__,
             "parameters": sum(p.numel() for p in part.parameters() if p.requires_grad)}
            for name, part in model.named_children()]
    rows.append({"part": "total", "module": type(model).__name__, "parameters": model.num_parameters()})
    return [r for r in rows if r["parameters"]]
