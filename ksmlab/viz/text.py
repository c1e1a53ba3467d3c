"""Text pictures of the world and of traces, for terminals, doctests and tests."""

import textwrap

from ..mm.page import PageKsm, page_stable_node
from ..mm.pte import MigrationEntry, Present, SwapEntry
from .style import content_text, page_kind, short, where

__all__ = ["picture", "format_trace", "ring_text", "pte_text", "page_text"]


def page_text(w, page) -> str:
    """One frame: ``0x2 KSM#3 'shared page' r2 m2``."""
    if PageKsm(page):
        node = page_stable_node(page)
        kind = f"KSM#{node.serial}" if node is not None else "KSM(orphan)"
    else:
        kind = page_kind(page)
    extra = f" swapcache:{page.swap_entry}" if page.swapcache else ""
    lock = f" locked:{page.lock_owner}" if page.lock_owner is not None else ""
    data = content_text(page.content)
    return f"{page.pfn:#x} {kind} {data!r} r{page.refcount} m{page.mapcount}{extra}{lock}"


def pte_text(pte) -> str:
    cls = pte.__class__
    if cls is Present:
        mark = "KSM " if PageKsm(pte.page) else ""
        return f"-> {mark}pfn {pte.page.pfn:#x}{' rw' if pte.writable else ' ro'}"
    if cls is SwapEntry:
        return f"-> swap entry {pte.entry}"
    if cls is MigrationEntry:
        return f"-> migration entry (pfn {pte.page.pfn:#x})"
    return repr(pte)


def ring_text(w) -> str:
    """The mm_slot list as a ring from the head; ``<cursor>`` after the slot under it."""
    ksm = w.ksm
    cur = ksm.ksm_scan.mm_slot
    parts = []
    for slot in [ksm.head] + ksm.mm_list:
        name = "ksm_mm_head" if slot is ksm.head else slot.mm.owner
        mark = "<cursor>" if slot is cur else ""
        parts.append(f"[{name}]{mark}")
    return " -> ".join(parts)


def _stable(n) -> str:
    items = ",".join(f"{i.mm.owner}@{where(i.mm, i.address)}" for i in n.hlist) or "no items"
    return f"#{n.serial} pfn {n.kpfn:#x} nid {n.nid} <- {items}"


def _span(mm, v) -> str:
    """A VMA's range as the pictures teach addresses: ``+0x0-+0x4000`` for the first
    area, ``area 2 +0x0-+0x2000`` for a later one."""
    if v is mm.vmas[0]:
        return f"{short(v.start)}-{short(v.end)}"
    return f"{where(mm, v.start)}-+{v.end - v.start:#x}"


def picture(w) -> str:
    """The whole world, a few lines per concept: KSM state, frames per NUMA node, swap,
    processes (VMAs and PTEs), the mm_slot ring, the trees and migrate_nodes."""
    ksm = w.ksm
    cur = ksm.ksm_scan.mm_slot
    at = (
        "ksm_mm_head"
        if cur is ksm.head
        else f"{cur.mm.owner}@{where(cur.mm, ksm.ksm_scan.address)}"
    )
    lines = [
        f"KSM run={ksm.run} merge_across_nodes={ksm.merge_across_nodes} "
        f"full_scans={ksm.ksm_scan.seqnr} cursor={at}",
        f"counters: shared {ksm.pages_shared}, sharing {ksm.pages_sharing}, "
        f"unshared {ksm.pages_unshared}, volatile {ksm.pages_volatile}, "
        f"rmap_items {ksm.rmap_items}",
    ]
    frames = w.mem.frames
    for nid in range(w.nodes):
        pfns = [p for p in sorted(frames) if frames[p].nid == nid]
        if not pfns:
            lines.append(f"node {nid} frames: (none)")
            continue
        lines.append(f"node {nid} frames:")
        lines.extend(f"  {page_text(w, frames[p])}" for p in pfns)
    if w.swap.slots:
        lines.append("swap:")
        for e in sorted(w.swap.slots):
            s = w.swap.slots[e]
            cache = f" cache pfn {s.page.pfn:#x}" if s.page is not None else ""
            data = content_text(s.content) if s.content is not None else "-"
            lines.append(f"  slot {e} count {s.count} data {data!r}{cache}")
    else:
        lines.append("swap: (none)")
    for mm in w.mms:
        state = "" if mm.users else " (exited)"
        lines.append(f"{mm.owner}{state}:")
        for v in mm.vmas:
            flag = " mergeable" if v.mergeable else ""
            lines.append(f"  vma {_span(mm, v)} node {v.node}{flag}")
        for addr in sorted(mm.ptes):
            lines.append(f"    {where(mm, addr)} {pte_text(mm.ptes[addr])}")
    lines.append(f"mm_slot ring: {ring_text(w)}")
    for t in ksm.root_stable_tree:
        lines.append(f"{t.name}: " + ("; ".join(_stable(n) for n in t.nodes) or "(empty)"))
    for t in ksm.root_unstable_tree:
        items = ", ".join(f"{i.mm.owner}@{where(i.mm, i.address)}" for i in t.nodes)
        lines.append(f"{t.name}: " + (items or "(empty)"))
    exiled = "; ".join(_stable(n) for n in ksm.migrate_nodes)
    lines.append("migrate_nodes: " + (exiled or "(empty)"))
    return "\n".join(lines)


#: the widest line of a text table: what a 1024 px JupyterLab shows unwrapped, with the
#: file browser open (about 650 px of output at 7.8 px a character)
WIDTH = 84


def format_trace(trace, violation=None, width=WIDTH) -> str:
    """A trace as a table, one step a line (``*`` marks a preemption), and the violation.
    Columns are as wide as their longest entry; a long "what" goes on under its column,
    broken between words, so no line is wider than ``width``."""
    tw = max([len(ev.task) for ev in trace] + [4])
    aw = max([len(ev.label) for ev in trace] + [2])
    indent = 4 + 1 + 1 + tw + 1 + aw + 1
    room = max(width - indent, 20)
    lines = [f"step  {'task':<{tw}} {'at':<{aw}} what".rstrip()]
    for ev in trace:
        mark = "*" if ev.preemption else " "
        what = textwrap.wrap(ev.detail, room, break_long_words=False, break_on_hyphens=False)
        what = what or [""]
        lines.append(f"{ev.index:>4}{mark} {ev.task:<{tw}} {ev.label:<{aw}} {what[0]}".rstrip())
        lines.extend(" " * indent + more for more in what[1:])
    if violation:
        lines.extend(
            textwrap.wrap(
                f"VIOLATION: {violation}",
                width,
                subsequent_indent="  ",
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines)
