"""Pages written at build time, so the docs never drift from their sources.

* ``_generated/readme/<page>.md``: the README sections a user-guide page shows,
  found by keywords in their ``## `` headings (the README stays the one place
  where measured figures are written down).
* ``_generated/cli_help/<command>.txt``: ``python -m sklattn [COMMAND] --help``.
* ``_generated/gallery/<example>.rst``: one page per ``examples/*.py``, with its
  docstring, the figures and printed output checked in under ``gallery/``,
  and the script itself.

Nothing here runs an example or loads a model.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

# user-guide page -> keywords matched against the README's "## " headings
README_PAGES = {
    "tasks": ("example", "estimators", "parameters", "small data"),
    "saving": ("saving", "loading", "persist"),
    "strategies": ("strateg", "fine-tuning", "long text"),
    "scaling": ("scaling", "distributed", "dask"),
    "performance": ("performance", "speed", "benchmark", "results"),
    "reliability": ("reliab",),
    "decisions": ("decisions",),
    "command_line": ("command line",),
    "plots": ("plots",),
}
_NOT_YET = "*The README has no section on this yet.*\n"
_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\((?!https?:|mailto:|#)([^)]+)\)")


def readme_sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) of every ``## `` section of a Markdown README."""
    sections: list[tuple[str, str]] = []
    heading, lines, fence = None, [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
        if not fence and line.startswith("## "):
            if heading is not None:
                sections.append((heading, "\n".join(lines).strip()))
            heading, lines = line[3:].strip(), []
        elif heading is not None:
            lines.append(line)
    if heading is not None:
        sections.append((heading, "\n".join(lines).strip()))
    return sections


def _section_markdown(heading: str, body: str) -> str:
    # Links to repository files (examples/x.py) have no page in the docs: keep the text and path.
    body = _LINK.sub(lambda m: f"{m.group(1)} (`{m.group(2)}`)", body)
    return f"## {heading}\n\n{body}\n"


def write_readme_pages(root: Path, out: Path) -> None:
    sections = readme_sections((root / "README.md").read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    for page, keywords in README_PAGES.items():
        chosen = [(h, b) for h, b in sections if any(k in h.lower() for k in keywords)]
        text = "\n".join(_section_markdown(h, b) for h, b in chosen) or _NOT_YET
        _write_if_changed(out / f"{page}.md", text)


def write_cli_help(out: Path) -> None:
    import os

    from sklattn.cli import build_parser

    out.mkdir(parents=True, exist_ok=True)
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"  # argparse wraps to the terminal: same pages from any shell
    try:
        parser = build_parser()
        _write_if_changed(out / "main.txt", parser.format_help())
        subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        for name, sub in subparsers.choices.items():
            _write_if_changed(out / f"{name}.txt", sub.format_help())
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns


def _gallery_page(script: Path, gallery: Path) -> str:
    docstring = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))) or script.stem
    title, _, rest = docstring.partition("\n")
    lines = [title, "=" * len(title), ""]
    if rest.strip():
        lines += [".. code-block:: text", ""] + [f"   {line}" for line in rest.strip().splitlines()] + [""]
    figures = sorted((gallery / "figures").glob(f"{script.stem}_*.png"))
    for figure in figures:
        lines += [f".. image:: /gallery/figures/{figure.name}", f"   :alt: {figure.stem}", ""]
    for page in sorted((gallery / "figures").glob(f"{script.stem}_*.html")):
        lines += [f"Interactive version: :download:`{page.name} </gallery/figures/{page.name}>`", ""]
    output = gallery / "output" / f"{script.stem}.txt"
    if output.is_file():
        lines += ["Printed output", "--------------", "",
                  f".. literalinclude:: /gallery/output/{output.name}", "   :language: text", ""]
    elif not figures:
        lines += ["*Run the script to see its results; the README quotes the figures measured "
                  "on the project's machine.*", ""]
    lines += ["Source", "------", "", f"Run it with ``python examples/{script.name}``.", "",
              f".. literalinclude:: /../examples/{script.name}", "   :language: python", ""]
    return "\n".join(lines)


def write_gallery(root: Path, srcdir: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    scripts = sorted((root / "examples").glob("*.py"))
    for stale in set(out.glob("*.rst")) - {out / f"{s.stem}.rst" for s in scripts}:
        stale.unlink()
    for script in scripts:
        _write_if_changed(out / f"{script.stem}.rst", _gallery_page(script, srcdir / "gallery"))


def _write_if_changed(path: Path, text: str) -> None:
    # Unchanged files keep their mtime, so incremental builds stay incremental.
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _generate(app) -> None:
    srcdir = Path(app.srcdir)
    root = srcdir.parent
    generated = srcdir / "_generated"
    write_readme_pages(root, generated / "readme")
    write_cli_help(generated / "cli_help")
    write_gallery(root, srcdir, generated / "gallery")


def setup(app):
    app.connect("builder-inited", _generate)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
