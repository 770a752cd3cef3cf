#!/usr/bin/env python3
"""Every link in the README, docs/ and bench/ resolves: a relative link names a file
that exists, and a #fragment names a heading of that page (GitHub's anchors:
lower case, punctuation dropped, spaces to hyphens). Prints each broken link
and exits 1 if there is one. External (http) links are not fetched: the
machines that run the tests reach no web."""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")


def anchors(page: pathlib.Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown page."""
    found, seen, fenced = set(), {}, False
    for line in page.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
        if fenced or not line.startswith("#"):
            continue
        text = line.lstrip("#").strip().lower()
        slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def links(page: pathlib.Path):
    fenced = False
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
        if not fenced:
            for target in LINK.findall(line):
                yield number, target


def broken(page: pathlib.Path):
    for number, target in links(page):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto: not fetched here
        path, _, fragment = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            yield f"{page.relative_to(ROOT)}:{number}: {target}: no such file"
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            yield f"{page.relative_to(ROOT)}:{number}: {target}: no such heading"


def main() -> int:
    pages = [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "bench").glob("*.md")),
    ]
    problems = [p for page in pages for p in broken(page)]
    for problem in problems:
        print(problem)
    print(f"check_links: {len(pages)} pages, {len(problems)} broken links")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
