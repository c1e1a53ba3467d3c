"""Build the static book of the notebook suite from the stored, nbval-tested outputs
(nothing is executed): ``python docs/book/build.py`` (``make book``) writes
``build/book/html/index.html``.

The widget scripts come from a pinned local copy, never from a CDN: the npm tarballs of
``VENDOR`` are fetched once with ``npm pack`` into ``build/book/npm`` (checked against
their integrity), and the files the pages load go to ``vendor/`` at the site's root,
outside ``_static`` (the theme would add every script there to every page, and each
widget would render twice).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "build" / "book"

#: npm package -> (version, integrity of its tarball, files taken from it)
VENDOR = {
    "@jupyter-widgets/html-manager": (
        "1.0.15",
        "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
        ("dist/embed-amd.js", "dist/embed.js.LICENSE.txt", "dist/*.woff2", "dist/*.woff",
         "dist/*.ttf", "dist/*.eot", "dist/*.svg", "package.json"),
    ),
    "requirejs": (
        "2.3.8",
        "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
        ("require.js", "package.json"),
    ),
}
REQUIRE_CONFIG_NAME = "require-config.js"
#: run between require.js and embed-amd.js: html-manager's modules (and with them its icon
#: fonts, which it loads from beside the module) resolve to vendor/, not to the page's folder
REQUIRE_CONFIG = """// written by docs/book/build.py
(function () {
  var here = document.currentScript.src;
  require.config({paths: {"@jupyter-widgets": here.slice(0, here.lastIndexOf("/"))}});
})();
"""
#: what the book is made of, relative to the repository (staged as links, not copied)
SOURCES = ("notebooks", "docs")


def tarball_name(package: str, version: str) -> str:
    return f"{package.lstrip('@').replace('/', '-')}-{version}.tgz"


def integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def fetch(package: str, version: str, expected: str, cache: Path) -> Path:
    """The npm tarball of package@version, from the cache or ``npm pack``; its integrity
    must be ``expected``."""
    cache.mkdir(parents=True, exist_ok=True)
    tgz = cache / tarball_name(package, version)
    if not tgz.exists() or integrity(tgz) != expected:
        npm = shutil.which("npm")
        if npm is None:
            sys.exit("book: npm is needed once to fetch the widget scripts (apt-get install npm)")
        env = dict(os.environ, npm_config_cache=str(cache / "cache"),
                   npm_config_update_notifier="false", npm_config_fund="false")
        subprocess.run([npm, "pack", "--silent", f"{package}@{version}",
                        "--pack-destination", str(cache)],
                       check=True, stdout=subprocess.DEVNULL, env=env)
    got = integrity(tgz)
    if got != expected:
        tgz.unlink()
        sys.exit(f"book: {package}@{version} has integrity {got}, expected {expected}")
    return tgz


def unpack(tgz: Path, patterns, dest: Path) -> None:
    """The files of ``tgz`` that match ``patterns`` (npm's ``package/`` prefix dropped),
    flat into ``dest``; package.json becomes NAME.package.json (it names the licence)."""
    from fnmatch import fnmatch

    stem = tgz.name.rsplit("-", 1)[0]
    with tarfile.open(tgz) as tar:
        for m in tar.getmembers():
            rel = m.name.removeprefix("package/")
            if not m.isfile() or not any(fnmatch(rel, p) for p in patterns):
                continue
            name = f"{stem}.package.json" if rel == "package.json" else Path(rel).name
            (dest / name).write_bytes(tar.extractfile(m).read())


def vendor(out: Path) -> Path:
    dest = out / "extra" / "vendor"
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for package, (version, expected, patterns) in VENDOR.items():
        unpack(fetch(package, version, expected, out / "npm"), patterns, dest)
    (dest / REQUIRE_CONFIG_NAME).write_text(REQUIRE_CONFIG)
    return dest.parent


def stage(out: Path) -> Path:
    """book/*.md and conf.py beside links to the sources: the tree Sphinx reads."""
    src = out / "src"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    for f in (ROOT / "docs" / "book").iterdir():
        if f.suffix == ".md":
            shutil.copy(f, src / f.name)
    for name in SOURCES:
        os.symlink(ROOT / name, src / name, target_is_directory=True)
    return src


def build(out: Path = OUT) -> Path:
    t0 = time.monotonic()
    extra = vendor(out)
    src = stage(out)
    html = out / "html"
    env = dict(os.environ, KSMLAB_BOOK_EXTRA=str(extra))
    # -a: write every page (the recording notes are added while writing); -q: warnings
    # only; -W: a warning (a broken link, a missing picture) fails the build
    done = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-a", "-q", "-W",
                           "--keep-going", "-c", str(ROOT / "docs" / "book"),
                           "-d", str(out / "doctrees"),
                           str(src), str(html)], env=env)
    if done.returncode:
        sys.exit(f"book: Sphinx failed (exit status {done.returncode}): see its messages above")
    print(f"book: {html / 'index.html'} ({time.monotonic() - t0:.1f} s)")
    return html


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
