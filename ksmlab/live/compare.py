"""Side by side: the model's observations and the kernel's, step by step, with every
difference marked; rendered as text, as HTML (in a notebook, by itself) and as a plot.

The kernel side is the live kernel (``allow_sysfs_writes=True``), or a recording made on a
machine that had one (``ksmlab/data/live-recorded.json``, labelled as recorded with the
machine, kernel and date), or absent, with the reason.

The model side runs the profile of the newest modelled version not newer than that
kernel (:func:`pick_version`), or the ``version`` asked for. With the matching profile
the two sides must agree after every step: any difference is a model bug.

>>> pick_version("6.18.44-fc-v669"), pick_version("6.1.0-13-amd64"), pick_version("3.2.0")
('6.18', '3.9', '3.9')
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
from dataclasses import dataclass

from ..changes import DEFAULT_VERSION, VERSIONS
from .driver import run_kernel
from .guard import KSM_DIR, availability, numa_nodes
from .model import run_model
from .observe import COUNTERS, STATS, Observation
from .workload import Workload, validate
from .workloads import get

__all__ = [
    "Comparison",
    "Difference",
    "compare",
    "pick_version",
    "RECORDING",
    "RECORDING_FORMAT",
    "load_recording",
    "write_recording",
]

RECORDING = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "live-recorded.json")
RECORDING_FORMAT = "ksmlab-live-recording/1"
_SHORT = {
    "pages_shared": "shared",
    "pages_sharing": "sharing",
    "pages_unshared": "unshared",
    "pages_volatile": "volatile",
    "full_scans": "scans",
    "pages_scanned": "scanned",
    "general_profit": "profit",
    "stable_node_chains": "chains",
    "stable_node_dups": "dups",
}


def _release(text: str) -> tuple:
    m = re.match(r"(\d+)\.(\d+)", text or "")
    if m is None:
        raise ValueError(f"{text!r} is not a kernel release (like 6.18.44)")
    return int(m.group(1)), int(m.group(2))


def pick_version(release: str) -> str:
    """The newest modelled version not newer than kernel ``release`` (``uname -r``);
    3.9 for anything older."""
    have = _release(release)
    fitting = [v for v in VERSIONS if _release(v) <= have]
    return max(fitting, key=_release) if fitting else DEFAULT_VERSION


@dataclass(frozen=True)
class Difference:
    """One value the two sides disagree on, after ``workload.steps[step]`` (-1: at the
    start; the tables number rows from 1, so this is row ``step + 1``)."""

    step: int
    text: str
    field: str  # a counter, "result", "read", or "proc.stat" / "proc.pages"
    model: object
    kernel: object

    def __str__(self) -> str:
        return (
            f"after step {self.step + 1} [{self.text}]: {self.field}: model {self.model!r}, "
            f"kernel {self.kernel!r}"
        )


def _page_diff(m: Observation, k: Observation, proc: str):
    a, b = m.page_digests.get(proc), k.page_digests.get(proc)
    if not a or not b or len(a) != len(b):
        return None
    return [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]


def _diffs(m: Observation, k: Observation) -> list:
    out = []

    def add(field, mv, kv):
        if kv is None or mv == kv:
            return
        out.append(Difference(m.step, m.text, field, mv, kv))

    add("result", m.result, k.result)
    for c in COUNTERS:
        add(c, m.counters.get(c), k.counters.get(c))
    for proc in sorted(set(m.procs) | set(k.procs)):
        mp, kp = m.procs.get(proc, {}), k.procs.get(proc, {})
        for s in STATS:
            add(f"{proc}.{s}", mp.get(s), kp.get(s))
        if mp.get("pages") != kp.get("pages"):
            pages = _page_diff(m, k, proc)
            if pages is None:
                add(f"{proc}.pages", mp.get("pages"), kp.get("pages"))
            else:
                add(f"{proc}.pages", f"pages {pages} differ", "")
    add("read", m.read, k.read)
    return out


class Comparison:
    """Both sides' observations of one workload; the model ran the profile of kernel
    ``version`` (``version_note`` says why that one)."""

    def __init__(self, workload, model, kernel=None, source=None, info=None, note="",
                 version=DEFAULT_VERSION, version_note=""):
        self.workload: Workload = workload
        self.model: list = model
        self.kernel: list | None = kernel
        self.source: str | None = source  # "live", "recorded" or None
        self.info: dict = info or {}
        self.note: str = note
        self.version: str = version
        self.version_note: str = version_note
        self.differences: list = []
        if kernel is not None:
            for m, k in zip(model, kernel, strict=True):
                self.differences.extend(_diffs(m, k))

    def __repr__(self) -> str:
        verdict = self.verdict
        return (
            f"<Comparison {self.workload.name} on {self.version}: {len(self.model)} "
            f"observations, {verdict}>"
        )

    @property
    def verdict(self) -> str:
        """One phrase: whether the two sides agree."""
        if self.kernel is None:
            return "model only"
        if self.differences:
            return f"{len(self.differences)} difference(s)"
        return "agree at every step"

    # -- verdicts ----------------------------------------------------------------------
    @property
    def agree(self) -> bool:
        """The kernel side exists, and the sides agree after every step."""
        return self.kernel is not None and not self.differences

    @property
    def model_label(self) -> str:
        return f"model: Linux {self.version} profile" + (
            f" ({self.version_note})" if self.version_note else ""
        )

    @property
    def label(self) -> str:
        i = self.info
        if self.source == "live":
            return f"kernel: live, {i.get('kernel')} on {i.get('machine')} ({i.get('arch')})"
        if self.source == "recorded":
            return (
                f"kernel: RECORDED on {i.get('machine')} ({i.get('kernel')}, {i.get('arch')}) "
                f"at {i.get('date')}, not run here"
            )
        return f"kernel: not run; {self.note}"

    # -- rows ------------------------------------------------------------------------
    def rows(self) -> list:
        """One dict per observation: index, step text, and each field as (model, kernel)."""
        out = []
        by_step: dict = {}
        for d in self.differences:
            by_step.setdefault(d.step, []).append(d)
        for n, m in enumerate(self.model):
            k = self.kernel[n] if self.kernel is not None else None
            cells = {"result": (m.result, k.result if k else None)}
            for c in COUNTERS:
                cells[c] = (m.counters.get(c), k.counters.get(c) if k else None)
            for proc, st in m.procs.items():
                kst = k.procs.get(proc, {}) if k else {}
                for s in STATS:
                    cells[f"{proc}.{s}"] = (st.get(s), kst.get(s))
            ds = by_step.get(m.step, [])
            out.append(
                {
                    "index": n,
                    "step": m.step,
                    "text": m.text,
                    "cells": cells,
                    "procs": list(m.procs),
                    "read": (m.read, k.read if k else None),
                    "differ": {d.field for d in ds},
                    "differences": ds,
                }
            )
        return out

    # -- text ------------------------------------------------------------------------
    def text(self) -> str:
        w = self.workload
        lines = [f"{w.name}: {w.title}", self.model_label, self.label, ""]
        head = ["", "#", "step", "result"] + [_SHORT[c] for c in COUNTERS] + ["rmap/merging"]
        table = [(head, [])]
        for r in self.rows():
            bad = r["differ"]
            mark = "!" if bad else ""
            row = [mark, str(r["step"] + 1) if r["step"] >= 0 else "0", r["text"]]
            for f in ["result", *COUNTERS]:
                row.append(_cell(r["cells"][f], f in bad))
            procs = []
            for p in r["procs"]:
                ri = _cell(r["cells"][f"{p}.ksm_rmap_items"], f"{p}.ksm_rmap_items" in bad)
                mg = _cell(r["cells"][f"{p}.ksm_merging_pages"], f"{p}.ksm_merging_pages" in bad)
                pg = " pages≠" if f"{p}.pages" in bad else ""
                procs.append(f"{p} {ri}/{mg}{pg}")
            row.append(" ".join(procs))
            extra = []
            mr, kr = r["read"]
            if mr is not None:
                extra.append("      read: " + _contents(mr))
                if kr is not None and kr != mr:
                    extra.append("    kernel: " + _contents(kr))
            table.append((row, extra))
        widths = [max(len(row[i]) for row, _ in table) for i in range(len(head))]
        for row, extra in table:
            cells = [
                c.ljust(widths[i]) if i in (0, 2, len(head) - 1) else c.rjust(widths[i])
                for i, c in enumerate(row)
            ]
            lines.append(" ".join(cells).rstrip())
            lines.extend(extra)
        lines.append("")
        lines.append(self.summary())
        return "\n".join(lines)

    def summary(self) -> str:
        if self.kernel is None:
            return "model only: " + self.note
        if not self.differences:
            return (
                f"the {self.version} model and the kernel agree after every one of the "
                f"{len(self.model) - 1} steps"
            )
        parts = [f"{len(self.differences)} difference(s) (marked !, a cell reads "
                 "model≠kernel):"]
        parts.extend(f"  {d}" for d in self.differences)
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.text()

    # -- HTML ------------------------------------------------------------------------
    def html(self) -> str:
        esc = html.escape
        w = self.workload
        head = ["#", "step", "result"] + [_SHORT[c] for c in COUNTERS] + ["rmap_items/merging"]
        pad = "padding:0 .3em"

        def th(h, name=None):
            # a counter's heading reads upwards, so its column is as narrow as its numbers;
            # the whole sysfs name is its hover title
            if name is None:
                return f"<th style='{pad};text-align:left'>{esc(h).replace('/', '/<wbr>')}</th>"
            return (
                f"<th title='{esc(name)}' style='{pad};text-align:left;vertical-align:bottom;"
                f"writing-mode:vertical-rl;transform:rotate(180deg)'>{esc(h)}</th>"
            )

        out = [
            "<div class='ksmlab-live'>",
            f"<p><b>{esc(w.name)}</b>: {esc(w.title)}<br><i>{esc(self.model_label)}; "
            f"{esc(self.label)}</i></p>",
            # fits JupyterLab's output at 1024 px (about 570 px): auto widths (JupyterLab lays
            # tables out fixed, which breaks words mid-word), 11.5 px monospace, numbers kept
            # whole and right-aligned, text left-aligned and broken between words only
            "<div style='overflow-x:auto'><table style='border-collapse:collapse;"
            "table-layout:auto;font-family:monospace;font-size:11.5px'>",
            "<tr>"
            + "".join(th(h) for h in head[:3])
            + "".join(th(_SHORT[c], c) for c in COUNTERS)
            + th(head[-1])
            + "</tr>",
        ]
        for r in self.rows():
            bad = r["differ"]

            def td(value, field, bad=bad, left=False):
                style = f"{pad};" + (
                    "text-align:left;white-space:normal" if left
                    else "text-align:right;white-space:nowrap"
                )
                if field in bad:
                    style += ";background:#f8c0c0"
                return f"<td style='{style}'>{esc(value)}</td>"

            cells = [
                f"<td style='{pad}'>{r['step'] + 1 if r['step'] >= 0 else 0}</td>",
                f"<td style='{pad};min-width:10em;text-align:left;word-break:normal'>"
                f"{esc(r['text'])}</td>",
            ]
            for f in ["result", *COUNTERS]:
                cells.append(td(_cell(r["cells"][f], f in bad), f, left=f == "result"))
            procs = []
            for p in r["procs"]:
                ri = _cell(r["cells"][f"{p}.ksm_rmap_items"], f"{p}.ksm_rmap_items" in bad)
                mg = _cell(r["cells"][f"{p}.ksm_merging_pages"], f"{p}.ksm_merging_pages" in bad)
                procs.append(f"{p} {ri}/{mg}" + (" pages≠" if f"{p}.pages" in bad else ""))
            flagged = [f for f in bad if "." in f]
            cells.append(td(" ".join(procs), flagged[0] if flagged else "", left=True))
            out.append("<tr>" + "".join(cells) + "</tr>")
            mr, kr = r["read"]
            if mr is not None:
                text = "read: " + _contents(mr)
                if kr is not None and kr != mr:
                    text += " | kernel: " + _contents(kr)
                out.append(
                    f"<tr><td></td><td colspan='{len(head) - 1}' style='{pad};text-align:left;"
                    f"color:var(--jp-content-font-color2, #555555)'>{esc(text)}</td></tr>"
                )
        out.append("</table></div>")
        out.append("<pre>" + esc(self.summary()) + "</pre></div>")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        return self.html()

    # -- plot ------------------------------------------------------------------------
    def plot(self, counters=("pages_shared", "pages_sharing", "pages_unshared", "pages_volatile"),
             ax=None):
        """The counters after every step, model dashed over kernel solid (needs
        matplotlib); vertical lines mark ksmd's passes. Returns the figure."""
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(8, 3.5))
        else:
            fig = ax.figure
        from ..viz.counters import draw_counters

        for n, o in enumerate(self.model):
            if o.text.startswith("ksmd"):
                ax.axvline(n, color="#ddd", lw=0.8, zorder=0)
        kernel = None if self.kernel is None else [o.counters for o in self.kernel]
        draw_counters(
            ax,
            [o.counters for o in self.model],
            compare=kernel,
            counters=counters,
            title=f"{self.workload.name} ({self.version} model): {self.label}",
            xlabel="step (grey lines: ksmd passes)",
        )
        return fig

    # -- JSON ------------------------------------------------------------------------
    def kernel_json(self) -> dict:
        """The kernel side as stored in a recording."""
        return {
            "title": self.workload.title,
            "steps": steps_digest(self.workload),
            "seconds": self.info.get("seconds"),
            "pass_seconds": self.info.get("pass_seconds"),
            "nudges": self.info.get("nudges"),
            "kernel": [o.to_json() for o in self.kernel],
        }


def steps_digest(workload: Workload) -> str:
    """Names a workload's steps, so a recording of other steps is never used for it."""
    text = json.dumps(workload.to_json()["steps"], separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _cell(pair, differs) -> str:
    m, k = pair
    if differs:
        return f"{_fmt(m)}≠{_fmt(k)}"
    return _fmt(m)


def _fmt(v) -> str:
    return "-" if v is None else str(v)


def _contents(pages) -> str:
    shown = " ".join(p if p else "·" for p in pages[:16])
    return shown + (f" … ({len(pages)} pages)" if len(pages) > 16 else "")


# -- recordings ------------------------------------------------------------------------


def load_recording(path=None) -> dict:
    """A recording (by default the one shipped in ``ksmlab/data``). Raises OSError if it
    cannot be read, ValueError if it is not a recording."""
    path = path or RECORDING
    with open(path) as f:
        try:
            rec = json.load(f)
        except ValueError as e:  # not JSON, or not text
            raise ValueError(f"{path} is not a {RECORDING_FORMAT} file ({e})") from None
    if not isinstance(rec, dict) or rec.get("format") != RECORDING_FORMAT:
        raise ValueError(f"{path} is not a {RECORDING_FORMAT} file")
    for key in ("recorded", "workloads"):
        if not isinstance(rec.get(key), dict):
            raise ValueError(f"{path} is a {RECORDING_FORMAT} file without its {key!r} table")
    return rec


def write_recording(comparisons, path, command: str) -> None:
    """Write the kernel side of live comparisons as a recording."""
    live = [c for c in comparisons if c.source == "live"]
    if not live:
        raise ValueError("nothing to record: no comparison ran on the live kernel")
    per_run = ("seconds", "pass_seconds", "nudges", "recovered", "left")
    info = {k: v for k, v in live[0].info.items() if k not in per_run}
    one = {"separators": (",", ":")}
    lines = [
        "{",
        f'"format":{json.dumps(RECORDING_FORMAT)},',
        f'"recorded":{json.dumps({**info, "command": command}, indent=1)},',
        '"workloads":{',
    ]
    for n, c in enumerate(live):
        entry = c.kernel_json()
        observations = entry.pop("kernel")
        head = json.dumps(entry, **one)[:-1]
        lines.append(f"{json.dumps(c.workload.name)}:{head},\"kernel\":[")
        lines.append(",\n".join(json.dumps(o, **one) for o in observations))
        lines.append("]}" + ("," if n < len(live) - 1 else ""))
    lines.append("}}")
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def _recorded(workload: Workload, recording):
    rec = recording if isinstance(recording, dict) else load_recording(
        None if recording in (True, "auto") else recording
    )
    entry = rec["workloads"].get(workload.name)
    if entry is None:
        raise KeyError(f"the recording has no workload {workload.name!r}")
    try:
        if entry["steps"] != steps_digest(workload):
            raise ValueError(
                f"the recording of {workload.name!r} is of different steps than this workload"
            )
        info = dict(rec["recorded"])
        info.update({k: entry.get(k) for k in ("seconds", "pass_seconds", "nudges")})
        return [Observation.from_json(o) for o in entry["kernel"]], info
    except (KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"the recording of {workload.name!r} is damaged "
                         f"({type(e).__name__}: {e})") from None


def compare(
    workload,
    *,
    allow_sysfs_writes: bool = False,
    recording="auto",
    nodes: int | None = None,
    version: str | None = None,
    ksm_dir: str = KSM_DIR,
    lock_timeout: float = 30.0,
) -> Comparison:
    """Run ``workload`` (a Workload or a built-in name) on the model and on a kernel.

    The kernel side: with ``allow_sysfs_writes=True`` this machine's live KSM (raises
    :class:`~ksmlab.live.driver.LiveUnavailable` saying why, if it cannot); otherwise
    ``recording`` (``"auto"``: the recording shipped with ksmlab, if it has this
    workload; a path or a loaded dict; None: none), labelled as recorded.
    The model runs the profile ``version`` ("3.9", "6.18"); by default the newest
    modelled version not newer than the kernel side's release (this machine's
    ``uname -r`` when there is no kernel side). The model has as many NUMA nodes as this
    machine unless ``nodes`` says otherwise.
    """
    if isinstance(workload, str):
        workload = get(workload)
    validate(workload)
    if version is not None and version not in VERSIONS:
        raise ValueError(f"unknown kernel version {version!r}; known: {', '.join(VERSIONS)}")
    if nodes is None:
        nodes = numa_nodes()

    def model_side(release, kind, kernel=None, info=None, note=""):
        if version is not None:
            v, why = version, "as asked"
        else:
            v = pick_version(release)
            whose = {"live": "the live kernel", "recorded": "the recorded kernel"}.get(
                kind, "this machine's kernel")
            why = f"the newest modelled version not newer than {whose}, {release}"
        model = run_model(workload, nodes=nodes, version=v)
        return Comparison(workload, model, kernel, kind, info, note, v, why)

    if allow_sysfs_writes:
        kernel, info = run_kernel(
            workload, allow_sysfs_writes=True, ksm_dir=ksm_dir, lock_timeout=lock_timeout
        )
        return model_side(info.get("kernel") or os.uname().release, "live", kernel, info)
    reason = availability(ksm_dir)
    if reason is None:
        note = "the live kernel was not asked for (allow_sysfs_writes=True, or --live)"
    else:
        note = f"no live kernel here: {reason}"
    if recording is not None:
        try:
            kernel, info = _recorded(workload, recording)
        except FileNotFoundError:
            if recording != "auto":  # a file the caller named must be there
                raise
            note += "; no recording found"
        except (KeyError, ValueError) as e:
            if recording != "auto":
                raise
            note += f"; {e}"
        else:
            return model_side(info.get("kernel", ""), "recorded", kernel, info)
    return model_side(os.uname().release, None, note=note)
