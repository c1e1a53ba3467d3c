"""The explored schedules as a tree, rebuilt by re-running the scheduler: the
counterexample's path, and at every step on it the other tasks that could have run,
each either pruned by the preemption bound or followed to its end with the explorer's
default policy (keep running the task that just ran, else the first runnable one).

The explorer does not record its search tree, so this is a reconstruction of the part
of it around the counterexample, capped at ``limit`` alternatives. Node ids are the
schedule prefixes as text (``""`` is the root); nodes carry ``status`` ("path",
"violation", "clean", "pruned", "deadlock"), ``preemptions`` and ``schedule``.
"""

import networkx as nx

from ..check.explore import violation_of
from ..sched.schedule import Schedule
from ..sched.scheduler import Scheduler
from .draw import draw_graph, finish_axes
from .style import COLORS

__all__ = ["schedule_tree", "tree_layout", "draw_schedule_tree"]


def _default_choice(sched):
    last = sched._last
    if last is not None and last.runnable:
        return last.name
    return sched.runnable()[0]


def _run_out(scn, fixes, prefix, max_steps):
    """Replay ``prefix`` then the default policy; (schedule, preemptions, violation)."""
    sched = Scheduler(scn, fixes)
    violation = None
    try:
        for name in prefix:
            sched.step(name)
            violation = violation_of(scn, sched)
            if violation is not None:
                break
        steps = 0
        while violation is None and not sched.finished and steps < max_steps:
            sched.step(_default_choice(sched))
            violation = violation_of(scn, sched)
            steps += 1
        return sched.schedule, sched.preemptions, violation, sched.finished
    finally:
        sched.close()


def schedule_tree(scenario, schedule, fixes=None, bound=None, limit=40, max_steps=400):
    """The tree of schedules around ``schedule`` (the counterexample): its path, with
    each alternative at each step explored to its end or marked pruned when it would
    exceed ``bound`` preemptions (default: the counterexample's own count)."""
    from .. import scenarios
    from ..fixes import Fixes

    scn = scenarios.get(scenario)
    fixes = fixes if fixes is not None else Fixes.all()
    path = Schedule.parse(schedule) if isinstance(schedule, str) else Schedule(schedule)
    g = nx.DiGraph(title="explored schedules", scenario=scn.name, truncated=False)
    g.add_node("", status="root", preemptions=0, schedule="", depth=0, label="start", color="white")
    sched = Scheduler(scn, fixes)
    alternatives = 0
    try:
        if bound is None:
            probe = Scheduler(scn, fixes)
            probe.run(path)
            bound = probe.preemptions
            probe.close()
        g.graph["bound"] = bound
        parent = ""
        violation = None
        for depth, name in enumerate(path, start=1):
            runnable = sched.runnable()
            last = sched._last
            keep = last.name if last is not None and last.runnable else None
            for alt in runnable:
                if alt == name:
                    continue
                if alternatives >= limit:
                    g.graph["truncated"] = True
                    break
                alternatives += 1
                cost = sched.preemptions + (1 if keep is not None and alt != keep else 0)
                prefix = sched.schedule + (alt,)
                _alternative(g, scn, fixes, parent, prefix, cost, bound, depth, max_steps)
            sched.step(name)
            violation = violation_of(scn, sched)
            node = str(sched.schedule)
            status = "violation" if violation is not None else "path"
            g.add_node(
                node,
                status=status,
                preemptions=sched.preemptions,
                schedule=node,
                depth=depth,
                violation=violation,
                color=COLORS["violation" if violation else "path"],
                label=f"{name}{'*' if sched.trace[-1].preemption else ''}",
            )
            g.add_edge(
                parent,
                node,
                task=name,
                path=True,
                style="solid",
                color=COLORS["path"],
                width=2.0,
                arrow=False,
            )
            parent = node
            if violation is not None:
                break
        g.graph["violation"] = violation
    finally:
        sched.close()
    return g


def _alternative(g, scn, fixes, parent, prefix, cost, bound, depth, max_steps):
    node = str(Schedule(prefix))
    name = prefix[-1]
    if cost > bound:
        g.add_node(
            node,
            status="pruned",
            preemptions=cost,
            schedule=node,
            depth=depth,
            color=COLORS["pruned"],
            label=f"{name}\npruned",
        )
        g.add_edge(
            parent, node, task=name, path=False, style="dotted", color="#969696", arrow=False
        )
        return
    run, pre, violation, finished = _run_out(scn, fixes, prefix, max_steps)
    if violation is not None:
        status = "deadlock" if violation.startswith("deadlock") else "violation"
    else:
        status = "clean" if finished else "cut"
    g.add_node(
        node,
        status=status,
        preemptions=pre,
        schedule=str(run),
        depth=depth,
        violation=violation,
        steps=len(run),
        color=COLORS["violation" if violation else "clean" if finished else "pruned"],
        label=f"{name}..\n{len(run)} steps\n{'BUG' if violation else 'ok'}",
    )
    g.add_edge(parent, node, task=name, path=False, style="solid", color="#969696", arrow=False)


def tree_layout(g) -> dict:
    """Depth across (left to right), the path on one row and the alternatives of each
    step fanned out below it. Deterministic."""
    pos = {}
    below = {}
    for n in sorted(g.nodes, key=lambda n: (g.nodes[n]["depth"], n)):
        d = g.nodes[n]
        x = d["depth"] * 1.0
        if d["status"] in ("root", "path") or (d["status"] == "violation" and _on_path(g, n)):
            pos[n] = (x, 0.0)
        else:
            k = below.get(d["depth"], 0) + 1
            below[d["depth"]] = k
            pos[n] = (x, -1.1 * k)
    return pos


def _on_path(g, n):
    preds = list(g.predecessors(n))
    return bool(preds) and g.edges[preds[0], n].get("path", False)


def draw_schedule_tree(ax, g, title=None):
    """Draw a schedule tree (from ``schedule_tree``); returns the artists."""
    pos = tree_layout(g)
    artists = draw_graph(ax, g, pos, fontsize=6, edge_labels=False)
    text = (
        f"{g.graph['scenario']}: counterexample path (orange), alternatives explored "
        f"(green ok / red bug) or pruned by bound {g.graph['bound']} (grey)"
    )
    if g.graph.get("truncated"):
        text += "; more alternatives not shown"
    finish_axes(ax, pos, title or text, margin=0.8)
    return artists
