"""The example worlds, and the review question of notebook 07 run both ways."""

import errno

import pytest

from ksmlab import KernelError, worlds


def _trees(k):
    return [sorted(n.serial for n in t) for t in k.ksm.root_stable_tree]


@pytest.mark.parametrize(("best_effort", "left"), [(False, 3), (True, 1)])
def test_busy_root_break_or_carry_on(best_effort, left):
    k = worlds.busy_root(best_effort)
    before = _trees(k)
    assert [len(t) for t in before] == [3, 2]
    root = k.ksm.root_stable_tree[0].root()
    k.sysfs.write("run", 2)
    after = _trees(k)
    # break (3.9) abandons tree 0 at its busy root; best effort skips only that node
    assert len(after[0]) == left and root.serial in after[0]
    assert after[1] == []
    assert len(k.dmesg) == 1 and "still mapped" in k.dmesg[0]
    with pytest.raises(KernelError) as err:
        k.sysfs.write("merge_across_nodes", 1)
    assert err.value.errno == errno.EBUSY
    assert k.sysfs.read("merge_across_nodes") == 0
    k.check()
