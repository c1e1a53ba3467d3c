"""The static book's sources and links, without a browser (tests/browser/test_book.py opens
the built pages): one repository URL behind every launch link, pinned widget scripts
outside _static, the glossary and every notebook and guide in the book."""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "book"))
import build  # noqa: E402
from recording import APP, binder_url, note, repository  # noqa: E402

GITHUB = re.compile(r"https://github\.com/[\w.-]+/ksmlab\b|github\.com%2F[\w.-]+%2Fksmlab")


def test_launch_links_come_from_the_one_repository_url():
    repo = repository()
    gh = repo.removeprefix("https://github.com/")
    assert binder_url("notebooks/01_merging.ipynb") == (
        f"https://mybinder.org/v2/gh/{gh}/main?urlpath=lab/tree/notebooks/01_merging.ipynb"
    )
    assert binder_url(APP) == (
        f"https://mybinder.org/v2/gh/{gh}/main?urlpath=voila/render/{APP}"
    )
    assert f'href="{repo}"' in note("notebooks/01_merging.ipynb")
    assert "make app" in note(APP) and "make lab" not in note(APP)


def test_readme_and_docs_name_the_same_repository():
    repo = repository()
    gh = repo.removeprefix("https://github.com/")
    readme = (ROOT / "README.md").read_text()
    binder = set(re.findall(r"https://mybinder\.org/v2/gh/([^/\s)]+/[^/\s)]+)/", readme))
    assert binder == {gh}, "README's Binder links name another repository"
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for url in GITHUB.findall(path.read_text()):
            assert url.replace("%2F", "/") in (repo, repo.removeprefix("https://")), (
                f"{path.name} names {url}, not {repo}"
            )


def test_widget_scripts_are_pinned_and_never_from_a_cdn():
    from conf import nb_ipywidgets_js

    for package, (version, integrity, files) in build.VENDOR.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), package
        assert integrity.startswith("sha512-") and len(integrity) == 95, package
        assert files
    vendored = {build.REQUIRE_CONFIG_NAME} | {
        Path(f).name for _, _, files in build.VENDOR.values() for f in files
    }
    assert list(nb_ipywidgets_js) == [
        "../vendor/require.js", f"../vendor/{build.REQUIRE_CONFIG_NAME}", "../vendor/embed-amd.js"
    ]
    for url in nb_ipywidgets_js:  # relative to _static: vendor/ sits beside it, not in it
        assert url.removeprefix("../vendor/") in vendored, url


def test_the_book_takes_every_notebook_guide_and_the_glossary():
    index = (ROOT / "docs" / "book" / "index.md").read_text()
    # globs, so that pages added later (the glossary among them) join without an edit
    globs = re.findall(r"```\{toctree\}\n(?::[^\n]*\n)*((?:[^`\n][^\n]*\n)+)```", index)
    entries = [line.strip() for block in globs for line in block.splitlines()]
    assert entries == ["notebooks/*", "notebooks/app/*", "docs/*"]
    assert set(build.SOURCES) == {"notebooks", "docs"}
