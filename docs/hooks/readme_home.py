"""An mkdocs hook: README.md is the site's home page, one file for both GitHub and the site.

The README links the other pages as ``docs/<page>.md`` (what works on GitHub); added to the site as ``index.md``
at the root of ``docs_dir``, the same links must read ``<page>.md``. The pages link back to it as
``../README.md`` (GitHub), which in the site is ``index.md``. Every other page lives in ``docs/`` as is.
"""

import re
from pathlib import Path

from mkdocs.structure.files import File

README = Path(__file__).resolve().parents[2] / "README.md"
# an inline link or image `](docs/...)`, or a reference definition `[name]: docs/...`
DOCS_PREFIX = re.compile(r"(\]\(|^\[[^\]]+\]:[ \t]*)(?:\./)?docs/", re.MULTILINE)
# a page's link to the README, the same two forms
TO_README = re.compile(r"(\]\(|^\[[^\]]+\]:[ \t]*)\.\./README\.md", re.MULTILINE)


def on_files(files, config):
    text = DOCS_PREFIX.sub(r"\1", README.read_text(encoding="utf-8"))
    files.append(File.generated(config, "index.md", content=text))
    return files


def on_page_markdown(markdown, page, config, files):
    return TO_README.sub(r"\1index.md", markdown)


def on_serve(server, config, builder):
    server.watch(str(README))  # `mkdocs serve` rebuilds when the README changes
    return server
