"""Pictures of the model: text pictures for terminals and doctests, graph builders
(world -> networkx graph), diagram drawers (``draw_memory(w) -> Diagram``, SVG written
here, shown inline in notebooks and widgets) and matplotlib charts of numbers
(``draw_counters(ax, ...)``).

Nothing here changes the model. Names are loaded on first use, so that
``from ksmlab.viz import picture`` needs neither networkx nor matplotlib, and the
diagrams need no matplotlib.

>>> from ksmlab.viz import picture
>>> from ksmlab import Kernel
>>> print(picture(Kernel(nodes=1).world))
KSM run=0 merge_across_nodes=1 full_scans=0 cursor=ksm_mm_head
counters: shared 0, sharing 0, unshared 0, volatile 0, rmap_items 0
node 0 frames: (none)
swap: (none)
mm_slot ring: [ksm_mm_head]<cursor>
stable tree 0: (empty)
unstable tree 0: (empty)
migrate_nodes: (empty)
"""

import importlib

__all__ = [
    "picture",
    "format_trace",
    "ring_text",
    "held_locks",
    "memory_graph",
    "draw_memory",
    "trees_graph",
    "draw_trees",
    "ring_graph",
    "draw_ring",
    "Timeline",
    "timeline",
    "draw_swimlanes",
    "schedule_tree",
    "draw_schedule_tree",
    "record_passes",
    "draw_counters",
    "render_png",
    "Diagram",
    "Stack",
    "changed_nodes",
    "culprit_nodes",
    "COLORS",
]

_WHERE = {
    "picture": "text",
    "format_trace": "text",
    "ring_text": "text",
    "held_locks": "locks",
    "COLORS": "style",
    "memory_graph": "memory",
    "draw_memory": "memory",
    "trees_graph": "trees",
    "draw_trees": "trees",
    "ring_graph": "ring",
    "draw_ring": "ring",
    "Timeline": "record",
    "timeline": "record",
    "draw_swimlanes": "swimlanes",
    "schedule_tree": "schedtree",
    "draw_schedule_tree": "schedtree",
    "record_passes": "counters",
    "draw_counters": "counters",
    "render_png": "render",
    "Diagram": "svg",
    "Stack": "svg",
    "changed_nodes": "changes",
    "culprit_nodes": "changes",
}


def __getattr__(name):
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'ksmlab.viz' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
