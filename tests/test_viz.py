"""ksmlab.viz: text pictures, graph builders and drawers, for every scenario.

The drawers are rendered to PNG (Agg) and checked for what they were asked to show;
the assertions are on the graphs (nodes, edges, labels, colours), not on pixels.
"""

import functools
import subprocess
import sys

import matplotlib
import pytest

matplotlib.use("Agg")

import ksmlab  # noqa: E402
from ksmlab import Fixes, PageKsm, scenarios, viz  # noqa: E402
from ksmlab.check.explore import violation_of  # noqa: E402
from ksmlab.viz.style import COLORS  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
NAMES = scenarios.names()


def buggy(name):
    scn = scenarios.get(name)
    return Fixes.all().without(scn.fix) if scn.fix else Fixes.none()


@functools.cache
def textbook(name):
    """The explorer's counterexample with the scenario's fix off: schedule text."""
    r = ksmlab.explore(name, fixes=buggy(name))
    assert r.found, r.verdict()
    return r.counterexample.schedule


_OPEN = []


@pytest.fixture(autouse=True)
def _close_schedulers():
    """Abandoned tasks are closed after the test (not by the garbage collector)."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def replayed(name, schedule, fixes):
    r = ksmlab.replay(name, schedule, fixes)
    _OPEN.append(r.scheduler)
    return r


def world_after(name, schedule, fixes):
    return replayed(name, schedule, fixes).scheduler.world


def test_import_ksmlab_and_text_pictures_stay_light():
    code = (
        "import sys, ksmlab, ksmlab.viz, ksmlab.widgets\n"
        "from ksmlab.viz import picture, format_trace\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('matplotlib', 'networkx', 'ipywidgets')]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- text pictures ----------------------------------------------------------------------
def test_picture_of_a_fresh_kernel():
    text = viz.picture(ksmlab.Kernel(nodes=2).world)
    assert text.splitlines() == [
        "KSM run=0 merge_across_nodes=1 full_scans=0 cursor=ksm_mm_head",
        "counters: shared 0, sharing 0, unshared 0, volatile 0, rmap_items 0",
        "node 0 frames: (none)",
        "node 1 frames: (none)",
        "swap: (none)",
        "mm_slot ring: [ksm_mm_head]<cursor>",
        "stable tree 0: (empty)",
        "stable tree 1: (empty)",
        "unstable tree 0: (empty)",
        "unstable tree 1: (empty)",
        "migrate_nodes: (empty)",
    ]


def test_picture_of_bug1_before_the_race():
    w = scenarios.get("fork_behind_unmerge_cursor").build(Fixes.all()).world
    text = viz.picture(w)
    assert "mm_slot ring: [ksm_mm_head]<cursor> -> [A] -> [P] -> [Q]" in text
    assert "counters: shared 1, sharing 1, unshared 1, volatile 0, rmap_items 3" in text
    ksm_lines = [ln for ln in text.splitlines() if " KSM#" in ln]
    assert len(ksm_lines) == 1 and "'shared page' r2 m2" in ksm_lines[0]
    assert text.count("-> KSM pfn") == 2  # P and Q map it


def test_picture_shows_swap_cache_and_migration_entries():
    k = ksmlab.Kernel(nodes=2)
    a = k.spawn("a")
    base = a.mmap(2)
    a.write(base, b"x")
    a.write(base + ksmlab.PAGE_SIZE, b"y")
    k.swap_out(a, base)
    text = viz.picture(k.world)
    assert "+0x0 -> swap entry 1" in text
    assert "slot 1 count 1" in text and "cache pfn" in text
    assert "swapcache:1" in text


def test_ring_text_marks_the_cursor():
    w = world_after("fork_behind_unmerge_cursor", "U*3", Fixes.all())
    assert viz.ring_text(w) == "[ksm_mm_head] -> [A] -> [P]<cursor> -> [Q]"


@pytest.mark.parametrize("name", NAMES)
def test_format_trace_of_each_counterexample(name):
    r = replayed(name, textbook(name), buggy(name))
    text = viz.format_trace(r.trace, r.violation)
    lines = text.splitlines()
    assert lines[0].startswith("step  task")
    assert len(lines) == len(r.trace) + 2
    assert lines[-1] == f"VIOLATION: {r.violation}"
    assert sum("*" == ln[4] for ln in lines[1:-1]) == r.preemptions


# -- memory map -------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_memory_graph_structure(name):
    w = scenarios.get(name).build(Fixes.all()).world
    g = viz.memory_graph(w)
    assert {n for n in g if n.startswith("mm:")} == {f"mm:{mm.owner}" for mm in w.mms}
    frames = w.mem.frames
    assert {n for n in g if n.startswith("page:")} == {f"page:{p:#x}" for p in frames}
    for pfn, page in frames.items():
        d = g.nodes[f"page:{pfn:#x}"]
        assert d["nid"] == page.nid
        assert d["ksm"] == PageKsm(page)
        if PageKsm(page):
            assert d["color"] == COLORS["ksm_page"]
            serial = ksmlab.page_stable_node(page).serial
            assert g.has_edge(f"page:{pfn:#x}", f"stable:{serial}")
            assert f"KSM #{serial}" in d["label"]
        else:
            assert d["color"] != COLORS["ksm_page"]
    for mm in w.mms:
        for addr, pte in mm.ptes.items():
            pid = f"pte:{mm.owner}:{addr:#x}"
            vma = mm.find_vma(addr)
            assert g.has_edge(f"vma:{mm.owner}:{vma.start:#x}", pid)
            if hasattr(pte, "page"):
                assert g.has_edge(pid, f"page:{pte.page.pfn:#x}")


def test_memory_graph_swap_cache_and_migration():
    # bug 2 after reclaim: the KSM page sits in the swap cache, both PTEs are swap entries
    w = world_after("swapin_after_unmerge_walk", "R*3", Fixes.all())
    g = viz.memory_graph(w)
    swaps = sorted(n for n in g if n.startswith("swap:"))
    assert swaps == ["swap:1"]
    (page,) = [v for _, v in g.out_edges("swap:1")]
    assert g.edges["swap:1", page]["kind"] == "swapcache"
    assert g.nodes[page]["ksm"] and "+swapcache" in g.nodes[page]["label"]
    kinds = sorted(g.nodes[n]["kind"] for n in g if n.startswith("pte:"))
    assert kinds == ["pte_swap", "pte_swap"]
    # bug 3 mid-migration: migration entries point at the old page
    w = world_after("migration_during_break_ksm", "M*4", Fixes.all())
    g = viz.memory_graph(w)
    mig = [n for n in g if g.nodes[n]["kind"] == "pte_migration"]
    assert mig and all(g.out_edges(n, data="kind") for n in mig)
    assert {k for n in mig for _, _, k in g.out_edges(n, data="kind")} == {"migrating"}


# -- trees --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_trees_graph_is_content_ordered(name):
    w = scenarios.get(name).build(Fixes.all()).world
    g = viz.trees_graph(w)
    ksm = w.ksm
    stable = [n for n in g if g.nodes[n]["kind"] == "stable"]
    assert len(stable) == len(ksm.stable_nodes())
    for tree in ksm.root_stable_tree[: ksm.ksm_nr_node_ids]:
        members = sorted((g.nodes[f"stable:{n.serial}"]["order"], n.serial) for n in tree.nodes)
        assert [s for _, s in members] == [n.serial for n in tree.nodes]
        if tree.nodes:
            root = tree.root()
            assert g.has_edge(f"root:{tree.name}", f"stable:{root.serial}")
    unstable = [n for n in g if g.nodes[n]["kind"] == "unstable"]
    assert len(unstable) == sum(len(t) for t in ksm.root_unstable_tree)
    assert all(g.nodes[n]["color"] == COLORS["stable"] for n in stable)  # none stale yet


def test_trees_graph_draws_the_red_black_shape():
    # seven unique pages scanned in content order: inserting 1..7 in order gives
    # ((1/b) 2/b ((3/b) 4/r ((5/r) 6/b (7/r)))) (worked in test_rbtree.py), rooted at the
    # second page, not the middle one
    k = ksmlab.Kernel(nodes=1)
    p = k.spawn("a")
    base = p.mmap(7)
    for i in range(7):
        p.write(base + i * ksmlab.PAGE_SIZE, b"page %d" % (i + 1))
    p.madvise(base, 7, ksmlab.MADV_MERGEABLE)
    k.sysfs.write("run", 1)
    k.ksmd.passes(2)
    g = viz.trees_graph(k.world)
    rid = [f"rmap:a:{base + i * ksmlab.PAGE_SIZE:#x}" for i in range(7)]
    assert list(g.successors("root:unstable tree 0")) == [rid[1]]
    edges = {(u, v, d["side"]) for u, v, d in g.edges(data=True) if u in rid}
    assert edges == {
        (rid[1], rid[0], "L"), (rid[1], rid[3], "R"), (rid[3], rid[2], "L"),
        (rid[3], rid[5], "R"), (rid[5], rid[4], "L"), (rid[5], rid[6], "R"),
    }
    assert [g.nodes[n]["rb"] for n in rid] == [
        "black", "black", "black", "red", "red", "black", "red"]
    assert [g.nodes[n]["order"] for n in rid] == list(range(7))
    assert [g.nodes[n]["depth"] for n in rid] == [2, 1, 3, 2, 4, 3, 4]


def test_trees_graph_per_node_and_stale_nodes_of_bug4():
    # bug 4, fix off: after run=2, the switch and run=1, the node-1 KSM page is freed
    # while its stable node stays in tree 0: drawn grey and STALE
    sched = ksmlab.Scheduler(
        scenarios.get("stale_stable_node_switch"), buggy("stale_stable_node_switch")
    )
    _OPEN.append(sched)
    sched.run("W*16 R")
    w = sched.world
    assert w.ksm.merge_across_nodes == 0
    g = viz.trees_graph(w)
    assert g.graph["trees"] == [
        "stable tree 0",
        "stable tree 1",
        "unstable tree 0",
        "unstable tree 1",
        "migrate_nodes",
    ]
    stale = [n for n in g if g.nodes[n].get("stale")]
    assert stale and all(g.nodes[n]["color"] == COLORS["stable_stale"] for n in stale)
    assert all("STALE" in g.nodes[n]["label"] for n in stale)


# -- ring -----------------------------------------------------------------------------------
def test_ring_insertion_point_with_and_without_the_fix():
    name = "fork_behind_unmerge_cursor"
    for fixes, where, walked in (
        (Fixes.all(), "ksm_mm_head", ["slot:A"]),
        (buggy(name), "slot:P", ["slot:A"]),
    ):
        w = world_after(name, "U*3", fixes)
        g = viz.ring_graph(w)
        assert g.graph["insert_before"] == where
        assert g.has_edge("new mm_slot", where)
        assert [n for n in g if g.nodes[n]["walked"]] == walked
        assert [n for n in g if g.nodes[n]["cursor"]] == ["slot:P"]
        assert g.nodes["slot:P"]["color"] == COLORS["slot_cursor"]
        ring = [(u, v) for u, v, k in g.edges(data="kind") if k == "next"]
        assert ring == [
            ("ksm_mm_head", "slot:A"),
            ("slot:A", "slot:P"),
            ("slot:P", "slot:Q"),
            ("slot:Q", "ksm_mm_head"),
        ]
    # and after the buggy fork, C sits behind the cursor, among the walked slots
    w = world_after(name, "U*3 F*2", buggy(name))
    order = [n for n in viz.ring_graph(w) if n.startswith(("slot:", "ksm"))]
    assert order == ["ksm_mm_head", "slot:A", "slot:C", "slot:P", "slot:Q"]
    assert viz.ring_graph(w).nodes["slot:C"]["walked"]


# -- timeline, swimlanes, schedule tree -----------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_timeline_of_each_counterexample(name):
    schedule = textbook(name)
    tl = viz.timeline(name, schedule, buggy(name))
    assert len(tl.events) == len(ksmlab.Schedule.parse(schedule))
    assert tl.violation_step == len(tl.events)
    assert tl.violation == replayed(name, schedule, buggy(name)).violation
    spans = tl.intervals()
    assert all(a <= b for _, _, a, b in spans)
    # every race here involves a sysfs write, which holds ksm_thread_mutex for a while
    assert any(lock == "ksm_thread_mutex" for _, lock, _, _ in spans)


@pytest.mark.parametrize("name", NAMES)
def test_schedule_tree_of_each_counterexample(name):
    schedule = textbook(name)
    g = viz.schedule_tree(name, schedule, buggy(name), limit=12)
    path = [n for n in g if g.nodes[n]["status"] == "path"]
    steps = len(ksmlab.Schedule.parse(schedule))
    assert len(path) == steps - 1
    last = ksmlab.Schedule.parse(schedule)
    assert g.nodes[str(last)]["status"] == "violation"
    alts = [n for n in g if n and not g.edges[next(iter(g.predecessors(n))), n]["path"]]
    assert len(alts) <= 12
    for n in alts:
        d = g.nodes[n]
        assert d["status"] in ("pruned", "clean", "violation", "deadlock", "cut")
        if d["status"] == "pruned":
            assert d["preemptions"] > g.graph["bound"]
        else:
            prefix = ksmlab.Schedule.parse(n)
            assert ksmlab.Schedule.parse(d["schedule"])[: len(prefix)] == prefix


def test_schedule_tree_of_bug1_shows_pruned_and_buggy_branches():
    name = "fork_behind_unmerge_cursor"
    g = viz.schedule_tree(name, textbook(name), buggy(name))
    statuses = sorted(g.nodes[n]["status"] for n in g)
    assert "pruned" in statuses and "clean" in statuses
    assert statuses.count("violation") >= 2  # the path's end and other ways to lose


# -- counters -------------------------------------------------------------------------------
def test_record_passes_and_counters_plot():
    k = ksmlab.Kernel(nodes=1)
    a = k.spawn("a")
    base = a.mmap(4)
    for i in range(4):
        a.write(base + i * ksmlab.PAGE_SIZE, b"same")
    a.madvise(base, 4, ksmlab.MADV_MERGEABLE)
    k.sysfs.write("run", 1)
    hist = viz.record_passes(k, 3)
    assert [h["pages_shared"] for h in hist] == [0, 0, 1, 1]
    assert [h["pages_sharing"] for h in hist] == [0, 0, 3, 3]
    png = viz.render_png(viz.draw_counters, hist)
    assert png.startswith(PNG)
    fig = viz.render.new_figure()
    ax = fig.add_subplot()
    lines = viz.draw_counters(ax, hist, compare=hist)
    assert len(lines) == 8
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == [
        "shared (kernel)",
        "shared (model)",
    ]


# -- every drawer renders, for every scenario -------------------------------------------------
def _texts(artists):
    return [a.get_text() for a in artists if hasattr(a, "get_text")]


@pytest.mark.parametrize("name", NAMES)
def test_every_drawer_renders_each_scenario(name, tmp_path):
    fixes = buggy(name)
    schedule = textbook(name)
    r = replayed(name, schedule, fixes)
    w = r.scheduler.world
    assert violation_of(scenarios.get(name), r.scheduler) == r.violation
    tl = viz.timeline(name, schedule, fixes)
    tree = viz.schedule_tree(name, schedule, fixes, limit=8)
    jobs = {
        "memory": (viz.draw_memory, w),
        "trees": (viz.draw_trees, w),
        "ring": (viz.draw_ring, w),
        "swimlanes": (viz.draw_swimlanes, tl),
        "schedtree": (viz.draw_schedule_tree, tree),
    }
    for what, (draw, arg) in jobs.items():
        png = viz.render_png(draw, arg, figsize=(8, 4), dpi=60)
        assert png.startswith(PNG) and len(png) > 2000, what
        (tmp_path / f"{what}.png").write_bytes(png)
    # the artists carry the labels the graphs promise
    fig = viz.render.new_figure()
    texts = _texts(viz.draw_memory(fig.add_subplot(), w))
    g = viz.memory_graph(w)
    assert sorted(t for t in texts if t in {g.nodes[n]["label"] for n in g}) == sorted(
        g.nodes[n]["label"] for n in g
    )
    boxes = {
        a.get_gid(): a.get_bbox_patch().get_facecolor()
        for a in viz.draw_memory(fig.add_subplot(), w)
        if hasattr(a, "get_bbox_patch") and a.get_gid()
    }
    ksm_pages = [n for n in g if g.nodes[n].get("ksm")]
    assert all(boxes[n] == matplotlib.colors.to_rgba(COLORS["ksm_page"]) for n in ksm_pages)
    lanes = _texts(viz.draw_swimlanes(fig.add_subplot(), tl))
    assert any(t.startswith("VIOLATION: ") for t in lanes)
    assert sum(t.startswith(tuple(f"{n}: " for n in tl.tasks)) for t in lanes) == len(tl.tasks)
