#!/usr/bin/env python3
"""Counts flux4j's public API types per module: before and after module-info.java.

"Before" is what a jar without a module descriptor exposes: every public top-level type in every
package of the module's src/main/java. "After" is what the module descriptor exports to everyone:
the public top-level types of the packages named in an unqualified `exports` (qualified
`exports ... to` and `opens` do not count). A module without module-info.java (flux-spark, an
automatic module) exports every package, so its two numbers are equal.

Usage: python3 tools/api/count_exported_types.py [repository root]   (default: the current folder)
Prints a Markdown table (module, packages, exported packages, types before, types after), then the
packages that are not exported to everyone, with their qualified targets if any.
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

MODULES = ["flux-gguf", "flux-tokenizers", "flux-core", "flux-pipeline", "flux-examples", "flux-spark"]

# A public top-level declaration starts at column 0 (nested types are indented).
PUBLIC_TYPE = re.compile(
    r"^public\s+(?:(?:final|abstract|sealed|non-sealed|static|strictfp)\s+)*"
    r"(?:class|interface|record|enum|@interface)\s+\w+",
    re.MULTILINE,
)
PACKAGE = re.compile(r"^package\s+([\w.]+)\s*;", re.MULTILINE)
EXPORTS = re.compile(r"^\s*exports\s+([\w.]+)\s*(to\s+[\w.,\s]+)?;", re.MULTILINE)
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)


def public_types(src: Path) -> dict:
    """Package name -> number of public top-level types under src."""
    counts = defaultdict(int)
    for f in sorted(src.rglob("*.java")):
        if f.name in ("module-info.java", "package-info.java"):
            continue
        text = COMMENT.sub("", f.read_text(encoding="utf-8"))
        pkg = PACKAGE.search(text)
        if pkg is None:
            continue
        counts[pkg.group(1)] += len(PUBLIC_TYPE.findall(text))
    return counts


def exports(module_info: Path):
    """(unqualified exports, {package: qualified targets}), or None without a descriptor."""
    if not module_info.exists():
        return None
    text = COMMENT.sub("", module_info.read_text(encoding="utf-8"))
    everyone, qualified = set(), {}
    for m in EXPORTS.finditer(text):
        if m.group(2):
            qualified[m.group(1)] = " ".join(m.group(2).split()[1:])
        else:
            everyone.add(m.group(1))
    return everyone, qualified


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    rows, hidden = [], []
    total_before = total_after = 0
    for module in MODULES:
        src = root / module / "src" / "main" / "java"
        counts = public_types(src)
        ex = exports(src / "module-info.java")
        before = sum(counts.values())
        if ex is None:
            after, exported = before, len(counts)
        else:
            everyone, qualified = ex
            after = sum(n for p, n in counts.items() if p in everyone)
            exported = sum(1 for p in counts if p in everyone)
            for p in sorted(counts):
                if p not in everyone:
                    hidden.append((module, p, counts[p], qualified.get(p, "nobody")))
        rows.append((module, len(counts), exported, before, after))
        total_before += before
        total_after += after
    print("| module | packages | exported to everyone | public types before | exported public types after |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print("| %s | %d | %d | %d | %d |" % r)
    print("| **total** | | | **%d** | **%d** |" % (total_before, total_after))
    print()
    print("| module | package not exported to everyone | public types | exported to |")
    print("|---|---|---:|---|")
    for h in hidden:
        print("| %s | `%s` | %d | %s |" % h)


if __name__ == "__main__":
    main()
