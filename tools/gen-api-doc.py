#!/usr/bin/env python3
"""gen-api-doc.py - generate docs/api.md from the comments in include/goro.h.

    tools/gen-api-doc.py [--check]

The header is the source of truth.  Its layout is read as follows:
  - the comment at the top of the file becomes the introduction;
  - a banner (a comment of dashes, a comment with a title, a comment of
    dashes) starts a section;
  - inside a section, a comment followed by the declarations right after
    it (up to a blank line or the next comment) is one entry: the
    declarations are shown as code, the comment as text below them.
    Declarations with no comment of their own are shown as code only.
The error table (GORO_ERRNO_MAP) is also rendered as a table.

Every function declared GORO_EXTERN must appear in the output; the script
fails if one is missing.  With --check it writes nothing and exits 1 if
docs/api.md is not up to date (for CI).
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADER = os.path.join(ROOT, "include", "goro.h")
OUTPUT = os.path.join(ROOT, "docs", "api.md")

BANNER_RE = re.compile(r"^/\*\s*-{10,}\s*\*/$")
TITLE_RE = re.compile(r"^/\*\s*(.*?)\s*\*/$")
FUNC_RE = re.compile(r"GORO_EXTERN\b[^;]*?\b(goro_\w+)\s*\(", re.S)


def comment_text(lines):
    """Strip the comment markers of a /* ... */ block and dedent it."""
    out = []
    for i, line in enumerate(lines):
        s = line.rstrip()
        if i == 0:
            s = re.sub(r"^\s*/\*\s?", "", s)
        else:
            s = re.sub(r"^\s*\*(?!/)\s?", "", s)
        s = re.sub(r"\s*\*/\s*$", "", s)
        out.append(s)
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    indent = min((len(s) - len(s.lstrip()) for s in out if s.strip()), default=0)
    return [s[indent:] for s in out]


def to_markdown(text_lines):
    """Comment text to Markdown: paragraphs and list items reflowed onto
    one line each, other indented lines kept, identifiers quoted."""
    out, para = [], []
    in_item = False

    def flush():
        if para:
            out.append(" ".join(para))
            para.clear()

    for s in text_lines:
        if not s.strip():
            flush()
            in_item = False
            out.append("")
        elif re.match(r"^\s*[-*] ", s):
            flush()
            in_item = True
            para.append("- " + s.strip()[2:].strip())
        elif in_item and re.match(r"^\s{2,}", s):
            para.append(s.strip())
        elif re.match(r"^\s{2,}", s):
            flush()
            out.append(s)
        else:
            if in_item:
                flush()
                in_item = False
                out.append("")
            para.append(s.strip())
    flush()
    text = "\n".join(out)

    # Quote goro identifiers and codes; leave text already in backticks.
    def quote(m):
        return "`" + m.group(0) + "`"
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"\b(?:goro_\w+(?:\(\))?|GORO_[A-Z0-9_]+\*?)", quote, parts[i])
    return "`".join(parts)


def parse(path):
    with open(path) as f:
        lines = f.read().split("\n")
    i, n = 0, len(lines)
    intro = []
    # The file's top comment.
    if lines[0].startswith("/*"):
        j = 0
        while "*/" not in lines[j]:
            j += 1
        intro = comment_text(lines[0 : j + 1])
        i = j + 1
    sections = []
    cur = None
    pending = None  # comment lines waiting for their declarations
    while i < n:
        line = lines[i]
        s = line.strip()
        if BANNER_RE.match(s) and i + 2 < n and BANNER_RE.match(lines[i + 2].strip()):
            title = TITLE_RE.match(lines[i + 1].strip()).group(1)
            cur = {"title": title, "entries": []}
            sections.append(cur)
            pending = None
            i += 3
            continue
        if cur is None:
            i += 1
            continue
        if s.startswith("/*"):
            j = i
            while "*/" not in lines[j]:
                j += 1
            pending = comment_text(lines[i : j + 1])
            i = j + 1
            continue
        if not s:
            if pending is not None:
                cur["entries"].append({"comment": pending, "code": []})
                pending = None
            i += 1
            continue
        if s.startswith("#ifdef __cplusplus") or s.startswith("#endif") or s == "}":
            i += 1
            continue
        # A run of declarations, up to a blank line or a comment line.
        code = []
        while i < n:
            s = lines[i].strip()
            if not s or (s.startswith("/*") and not code_open(code)):
                break
            if s.startswith("#ifdef __cplusplus"):
                break
            code.append(lines[i].rstrip())
            i += 1
        cur["entries"].append({"comment": pending or [], "code": code})
        pending = None
    return intro, sections


def code_open(code):
    """True while a multi-line declaration (struct, enum, macro) is open."""
    text = "\n".join(code)
    if code and code[-1].endswith("\\"):
        return True
    return text.count("{") > text.count("}")


def anchor(title):
    a = re.sub(r"[^a-z0-9 -]", "", title.lower()).strip().replace(" ", "-")
    return a


def error_table(header_text):
    rows = re.findall(r'XX\((\w+),\s*(-?\w+),\s*"([^"]*)"\)', header_text)
    out = ["| Code | Value | Message |", "|---|---|---|"]
    for name, val, msg in rows:
        v = val if val.lstrip("-").isdigit() else "-" + val.lstrip("-") if val.startswith("-") else val
        out.append(f"| `GORO_{name}` | `{v}` | {msg} |")
    return "\n".join(out)


def render(intro, sections, header_text):
    md = []
    md.append("# goro API reference")
    md.append("")
    md.append("<!-- Generated by tools/gen-api-doc.py from include/goro.h; do not edit. -->")
    md.append("")
    md.append("Everything here is declared in the one public header, `<goro.h>`. "
              "This page is generated from the header's own comments, so the two "
              "always agree; when in doubt, the header wins.")
    md.append("")
    md.append("## Conventions")
    md.append("")
    md.append(to_markdown(intro[2:] if len(intro) > 2 and intro[0].startswith("goro.h") else intro))
    md.append("")
    md.append("## Contents")
    md.append("")
    for sec in sections:
        funcs = []
        for e in sec["entries"]:
            funcs += FUNC_RE.findall("\n".join(e["code"]))
        md.append(f"- [{sec['title']}](#{anchor(sec['title'])})"
                  + (": " + ", ".join(f"`{f}`" for f in funcs) if funcs else ""))
    md.append("")
    for sec in sections:
        md.append(f"## {sec['title']}")
        md.append("")
        if sec["title"] == "Errors":
            md.append(error_table(header_text))
            md.append("")
        for e in sec["entries"]:
            if e["code"]:
                md.append("```c")
                md.extend(e["code"])
                md.append("```")
                md.append("")
            if e["comment"]:
                md.append(to_markdown(e["comment"]))
                md.append("")
    while md and not md[-1]:
        md.pop()
    return "\n".join(md) + "\n"


def main():
    check = "--check" in sys.argv[1:]
    with open(HEADER) as f:
        header_text = f.read()
    intro, sections = parse(HEADER)
    doc = render(intro, sections, header_text)
    declared = set(FUNC_RE.findall(header_text))
    shown = set()
    for sec in sections:
        for e in sec["entries"]:
            shown.update(FUNC_RE.findall("\n".join(e["code"])))
    missing = sorted(declared - shown)
    if missing:
        sys.stderr.write("gen-api-doc: functions not placed in any section: %s\n" % ", ".join(missing))
        return 1
    if check:
        try:
            with open(OUTPUT) as f:
                if f.read() == doc:
                    return 0
        except OSError:
            pass
        sys.stderr.write("gen-api-doc: docs/api.md is out of date; run tools/gen-api-doc.py\n")
        return 1
    with open(OUTPUT, "w") as f:
        f.write(doc)
    print(f"gen-api-doc: wrote {os.path.relpath(OUTPUT, ROOT)} "
          f"({len(declared)} functions in {len(sections)} sections)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
