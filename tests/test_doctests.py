"""The examples in ksmlab's docstrings run and print what they say."""
import doctest
import importlib
import pkgutil

import pytest

import ksmlab

MODULES = sorted(m.name for m in pkgutil.walk_packages(ksmlab.__path__, "ksmlab.")
                 if m.name != "ksmlab.bench" and not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", ["ksmlab", *MODULES])
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_package_has_examples():
    finder = doctest.DocTestFinder()
    examples = sum(len(t.examples) for t in finder.find(ksmlab))
    assert examples >= 5
