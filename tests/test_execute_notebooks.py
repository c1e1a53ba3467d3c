"""The script that stores the reference outputs writes the same file for the same run:
widget model ids renumbered by where they are shown and referred to, and a run whose
stored widget state lacks a model it refers to noticed."""

import json
import random

import nbformat
from execute_notebooks import _missing_models, renumber_widget_ids

STATE = "application/vnd.jupyter.widget-state+json"
VIEW = "application/vnd.jupyter.widget-view+json"


def _notebook(ids, order, dangling=None):
    """Two displayed boxes, ids[0] holding ids[1] and ids[2], ids[3] holding ids[4]; the
    stored state in ``order``."""
    box, a, b, box2, c = ids
    held = [f"IPY_MODEL_{c}"] + ([f"IPY_MODEL_{dangling}"] if dangling else [])
    state = {
        box: {"model_name": "VBoxModel",
              "state": {"children": [f"IPY_MODEL_{a}", f"IPY_MODEL_{b}"]}},
        a: {"model_name": "HTMLModel", "state": {"value": "a"}},
        b: {"model_name": "HTMLModel", "state": {"value": "b"}},
        box2: {"model_name": "VBoxModel", "state": {"children": held}},
        c: {"model_name": "HTMLModel", "state": {"value": "c"}},
    }
    nb = nbformat.v4.new_notebook()
    for n, shown in enumerate((box, box2)):
        view = {"model_id": shown, "version_major": 2, "version_minor": 0}
        out = nbformat.v4.new_output("display_data", data={VIEW: view, "text/plain": "VBox()"})
        nb.cells.append(nbformat.v4.new_code_cell("x", id=f"cell{n}", outputs=[out]))
    nb.metadata["widgets"] = {STATE: {"state": {k: state[k] for k in order}, "version_major": 2,
                                      "version_minor": 0}}
    return nbformat.writes(nb)


def _ids(rng):
    return ["".join(rng.choice("0123456789abcdef") for _ in range(32)) for _ in range(5)]


def test_two_runs_with_other_ids_and_state_order_are_stored_alike():
    rng = random.Random(7)
    first, second = _ids(rng), _ids(rng)
    one = renumber_widget_ids(_notebook(first, first))
    two = renumber_widget_ids(_notebook(second, [second[i] for i in (4, 2, 0, 3, 1)]))
    assert one == two
    state = json.loads(one)["metadata"]["widgets"][STATE]["state"]
    assert list(state) == [f"{i:032x}" for i in range(1, 6)]
    # the first view, then what it holds, then the second view and what it holds
    assert [state[k]["state"].get("value") for k in state] == [None, "a", "b", None, "c"]


def test_a_model_referred_to_but_not_stored_is_reported():
    rng = random.Random(8)
    ids = _ids(rng)
    ghost = "f" * 32
    text = renumber_widget_ids(_notebook(ids, ids, dangling=ghost))
    assert _missing_models(text) == {ghost}
    assert _missing_models(renumber_widget_ids(_notebook(ids, ids))) == set()
