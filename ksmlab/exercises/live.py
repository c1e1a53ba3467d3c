"""Exercises of notebook 09: the same workload on the model and on a real kernel.

The answers come from the live lab's comparison (the model side, and the kernel side as
recorded on a 6.18 machine), never from typed-in numbers.
"""

from .base import ChoiceExercise, NumericExercise, Option

__all__ = ["exercises"]

NB = "09_live_kernel"


def _comparison(name):
    from ..live import compare

    # the 3.9 model against the recording shipped with ksmlab (made on 6.18)
    return compare(name, version="3.9")


def _after_pass(observations, n):
    return next(o for o in observations if o.counters["full_scans"] == n)


def _describe(name) -> str:
    from ..live import get

    return "\n".join(f"    {i}: {step}" for i, step in enumerate(get(name).steps))


def _duplicates_pass2():
    obs = _after_pass(_comparison("duplicates").model, 2)
    return obs.counters["pages_shared"], obs.counters["pages_sharing"]


def _first_difference(name):
    cmp = _comparison(name)
    return next(d for d in cmp.differences if d.field == "pages_sharing")


def exercises():
    out = []

    def duplicates_mistakes(exp):
        shared, sharing = exp
        return [
            ((shared, shared + sharing), "counted-ksm-page",
             "pages_sharing leaves out the KSM page itself: it counts the mappings that share "
             "it, which is the memory saved."),
            ((sharing, shared), "swapped", "Those are the two counters the other way round."),
            ((0, 0), "first-pass",
             "That is the state after the first pass, which only records checksums."),
        ]

    out.append(NumericExercise(
        "09.duplicates-pass2", NB, "The kernel agrees",
        "The built-in workload `duplicates` runs these steps on the model and on the kernel:\n"
        f"```\n{_describe('duplicates')}\n```\n"
        "After the second ksmd pass both sides show the same counters. Predict "
        "pages_shared and pages_sharing.",
        ("pages_shared", "pages_sharing"), _duplicates_pass2, duplicates_mistakes,
        hints=["Count the distinct contents that appear on at least two pages.",
               "pages_sharing counts every mapping of a KSM page but the first."],
        explanation="One KSM page per duplicated content (pages_shared); every further page "
                    "with that content is a page saved (pages_sharing). The kernel's own "
                    "counters say the same."))

    def existing_answer():
        d = _first_difference("merge-into-existing")
        return d.model, d.kernel

    def existing_mistakes(exp):
        model, kernel = exp
        return [
            ((model, model), "no-difference",
             "Linux 6.18 does not merge it on that pass: since 6.11 a page that is not yet a "
             "KSM page must keep its checksum for one pass before the stable tree is "
             "searched."),
            ((kernel, model), "swapped",
             "The other way round: 3.9 searches the stable tree first, so the model merges "
             "at once."),
            ((kernel, kernel), "both-late",
             "3.9 merges a page identical to an existing KSM page on its first visit."),
        ]

    out.append(NumericExercise(
        "09.merge-into-existing", NB, "Where the kernel has moved on",
        "The workload `merge-into-existing`:\n"
        f"```\n{_describe('merge-into-existing')}\n```\n"
        "Process `b` writes a page equal to `a`'s KSM page. After `b`'s first pass, predict "
        "pages_sharing on the 3.9 model and on Linux 6.18.",
        ("pages_sharing on the model", "pages_sharing on the kernel"),
        existing_answer, existing_mistakes,
        hints=["In 3.9, cmp_and_merge_page searches the stable tree before it looks at the "
               "checksum.",
               "In 6.11 and later, a page that is not a KSM page is checked for volatility "
               "first."],
        explanation="3.9 merges b's page into the existing KSM page at once; 6.11+ "
                    "(d58a361b0350) waits one pass, so the kernel is one behind until the "
                    "next pass, after which both agree again."))

    def which_commit():
        from ..changes import change
        from ..live import SHOWS

        _first_difference("merge-into-existing")  # the difference is there
        commit = change(SHOWS["merge-into-existing"]).commit
        return {"d58a361b0350": "a"}.get(commit, "d")

    out.append(ChoiceExercise(
        "09.why-differ", NB, "Which change explains the difference",
        "In the `merge-into-existing` comparison the kernel merges one pass later than the "
        "model. Which kernel change explains it?",
        [Option("a", "6.11: the checksum test moved before the stable-tree search "
                     "(d58a361b0350)"),
         Option("b", "6.7: smart scan skips pages that rarely change",
                "the live lab turns smart_scan off before it runs anything."),
         Option("c", "4.13: max_page_sharing limits how many pages share one KSM page",
                "the workload has far fewer than 256 identical pages."),
         Option("d", "4.11: use_zero_pages merges zero-filled pages with the zero page",
                "the live lab keeps use_zero_pages at 0, and the page is not zero-filled.")],
        which_commit,
        hints=["Which settings does the live lab change before it runs a workload?"],
        explanation="Every difference the lab reports is named with the commit that caused "
                    "it; this one is d58a361b0350."))

    def which_switch():
        """The change whose what-if (6.18 without it) leaves c's page unmerged after the
        pass that follows b's MADV_UNMERGEABLE (row 15)."""
        from ..changes import Changes
        from ..live import get, run_model

        w = get("stale-stable-node")
        out = [n for n in Changes.names()
               if run_model(w, version="6.18", changes=Changes.of("6.18").without(n))[15]
               .procs["c"]["ksm_merging_pages"] == 0]
        return {"stale_node_restart": "b", "checksum_first": "a",
                "stable_node_chains": "c"}.get(out[0], "d") if len(out) == 1 else "d"

    out.append(ChoiceExercise(
        "09.which-switch", NB, "Which switch makes the difference",
        "In `stale-stable-node`, c's page Z merges with a's KSM page at row 15 on the 6.18 "
        "profile and on the kernel. Turn one change off at a time "
        "(`Changes.of('6.18').without(name)`): which one leaves c's page unmerged there?",
        [Option("a", "checksum_first (6.11, d58a361b0350)",
                "c kept its checksum for a whole pass before that row: the checksum test "
                "passes either way."),
         Option("b", "stale_node_restart (4.5)"),
         Option("c", "stable_node_chains (4.13, 2c653d0ee2ae)",
                "a's KSM page has two sharers, far from max_page_sharing, and it has "
                "rmap_items: it is a sharing candidate either way."),
         Option("d", "sysfs_6_18",
                "the workload writes no knob the 6.18 sysfs parses differently.")],
        which_switch,
        hints=["What is at the root of the stable tree when c's search starts, and is its "
               "page still there?"],
        explanation="M's stable node is the root and its page is gone. get_ksm_page removes "
                    "it; since 4.5 the search then starts again and finds a's Z, where 3.9 "
                    "gave up and sent c's page to the unstable tree."))
    return out
