#!/usr/bin/env python3
"""svg-summary.py MAP.svg: read a `natmod store map` picture as XML.

Exits 1 with one line on stderr if the file is not well-formed XML, not an
SVG document with a size, or a run of the grid has no <title> (the tooltip
that names what a box is, even when it is too small for a label). Else
prints one tab-separated line per element the test looks at:

    grid        COLS  ROWS
    caption     TEXT                      (each line of the caption)
    CLASS       BLOCKS  NAME  TITLE       (each run of the grid: module,
                                           free, kept, meta; "damaged" is
                                           a second class; module-row: the
                                           module list under the grid)

NAME is data-name as the XML parser returns it (entities decoded); TITLE
is the title's first line.
"""
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"


def die(msg):
    print(f"{sys.argv[1]}: {msg}", file=sys.stderr)
    sys.exit(1)


try:
    root = ET.parse(sys.argv[1]).getroot()
except ET.ParseError as e:
    die(f"malformed XML: {e}")
if root.tag != NS + "svg":
    die(f"root element is {root.tag}, not an SVG <svg>")
for attr in ("width", "height", "viewBox"):
    if not root.get(attr):
        die(f"<svg> has no {attr}")

for el in root.iter(NS + "g"):
    cls = el.get("class") or ""
    kind = cls.split()[0] if cls else ""
    if kind == "grid":
        print("grid", el.get("data-cols"), el.get("data-rows"), sep="\t")
    elif kind == "caption":
        for t in el.iter(NS + "text"):
            print("caption", "".join(t.itertext()), sep="\t")
    elif kind in ("module", "free", "kept", "meta", "module-row"):
        title = el.find(NS + "title")
        if title is None or not (title.text or "").strip():
            die(f'a <g class="{cls}"> has no title')
        first = title.text.split("\n")[0]
        print(cls, el.get("data-blocks", ""), el.get("data-name", ""), first, sep="\t")
