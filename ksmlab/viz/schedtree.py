"""The explored schedules as a tree, rebuilt by re-running the scheduler: the
counterexample's path, and at every step on it the other tasks that could have run,
each either pruned by the preemption bound or followed to its end with the explorer's
default policy (keep running the task that just ran, else the first runnable one).

The explorer does not record its search tree, so this is a reconstruction of the part
of it around the counterexample, capped at ``limit`` alternatives. Node ids are the
schedule prefixes as text (``""`` is the root); nodes carry ``status`` ("path",
"violation", "clean", "pruned", "deadlock"), ``preemptions`` and ``schedule``.
"""

import textwrap

import networkx as nx

from ..check.explore import violation_of
from ..sched.schedule import Schedule
from ..sched.scheduler import Scheduler
from .style import COLORS
from .svg import FONT, INK2, Box, Diagram

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
            label=f"{name} pruned",
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
        label=f"{name}.. {len(run)} {'BUG' if violation else 'ok' if finished else 'cut'}",
    )
    g.add_edge(parent, node, task=name, path=False, style="solid", color="#969696", arrow=False)


def tree_layout(g) -> dict:
    """In pixels: the counterexample's path down the left, one row per step, and the
    alternatives of each step to its right, in the row of the step they replace (the
    children of the same parent). Returns node -> Box; deterministic."""
    boxes = {n: Box(n, 0, 0, g.nodes[n]["label"].split("\n")) for n in g}
    path = [n for n in g if _on_path(g, n) or n == ""]
    path.sort(key=lambda n: g.nodes[n]["depth"])
    pw = max(boxes[n].w for n in path)
    rowh = max(b.h for b in boxes.values()) + V_GAP
    alts = {}
    for n in g:
        if n not in path:
            alts.setdefault(g.nodes[n]["depth"], []).append(n)
    for i, n in enumerate(path):
        boxes[n].x = STEP_W + pw / 2
        boxes[n].y = TOP + i * rowh + rowh / 2
    aw = max((b.w for n, b in boxes.items() if n not in path), default=0)
    for depth, members in alts.items():
        for j, n in enumerate(sorted(members)):
            boxes[n].x = STEP_W + pw + H_GAP + j * (aw + H_GAP) + aw / 2
            boxes[n].y = TOP + depth * rowh + rowh / 2
    g.graph["path_width"] = pw
    return boxes


TOP = 56
STEP_W = 48  # the step numbers' column
H_GAP = 26
V_GAP = 8


def _on_path(g, n):
    preds = list(g.predecessors(n))
    return bool(preds) and g.edges[preds[0], n].get("path", False)


def draw_schedule_tree(g, title=None) -> Diagram:
    """A schedule tree (from ``schedule_tree``) as an SVG diagram."""
    boxes = tree_layout(g)
    title = title or f"{g.graph['scenario']}: schedules around the counterexample"
    key = (
        f"down: the counterexample (orange, red where it breaks); across: what else could "
        f"run at that step, followed to its end (green ok, red bug) or pruned by bound "
        f"{g.graph['bound']} (grey)"
    )
    if g.graph.get("truncated"):
        key += "; more alternatives not shown"
    d = Diagram("schedtree", title, key)
    d.text(8, 14, title, size=FONT + 2, weight="bold")
    for i, line in enumerate(textwrap.wrap(key, 72)):
        d.text(8, 34 + i * 17, line, size=FONT, color=INK2)
    top = 34 + len(textwrap.wrap(key, 72)) * 17
    shift = top - TOP + 6
    for b in boxes.values():
        b.y += shift
    for u, v in sorted(g.edges, key=lambda e: (str(e[0]), str(e[1]))):
        a, b = boxes[u], boxes[v]
        e = g.edges[u, v]
        if e.get("path"):
            d.line(
                [(a.x, a.rect[3]), (b.x, b.rect[1])],
                color=PATH,
                width=2.5,
                arrow=False,
                title=f"then {e['task']} runs",
            )
        else:
            # from the parent's right side, down into the row of the step it replaces
            x0, gap = a.rect[2] + 10, b.rect[1] - V_GAP / 2
            d.line(
                [(a.rect[2], a.y), (x0, a.y), (x0, gap), (b.x, gap), (b.x, b.rect[1])],
                color=INK2,
                width=1.2,
                dash="2 3" if e.get("style") == "dotted" else None,
                arrow=False,
                title=f"instead, {e['task']} runs",
            )
    for n, b in boxes.items():
        nd = g.nodes[n]
        if n == "":
            d.box(b, "root", "the scenario's start", None)
            continue
        status = nd["status"]
        kind = {
            "path": "path",
            "violation": "violation",
            "clean": "clean",
            "pruned": "pruned",
            "deadlock": "deadlock",
            "cut": "cut",
        }[status]
        if status in ("path", "violation") and _on_path(g, n):
            d.text(STEP_W - 8, b.y, str(nd["depth"]), anchor="end", color=INK2)
        d.box(b, kind, _title(nd), "culprit" if status == "violation" and _on_path(g, n) else None)
    d.fit()
    return d


PATH = "var(--jp-warn-color0, #e65100)"


def _title(nd) -> str:
    s = nd["status"]
    if s == "pruned":
        return f"{nd['schedule']}: pruned, it would need {nd['preemptions']} preemptions"
    if s in ("path", "violation") and "steps" not in nd:
        what = f" - {nd['violation']}" if nd.get("violation") else ""
        return f"step {nd['depth']}: {nd['schedule']}{what}"
    what = nd.get("violation") or ("runs clean to the end" if s == "clean" else "cut short")
    return f"{nd['schedule']} ({nd.get('steps')} steps, {nd['preemptions']} preemptions): {what}"
