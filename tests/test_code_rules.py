"""Rules of the codebase that a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TYPE_IGNORE = re.compile(r"#\s*type:\s*ignore")
IGNORE_WITH_REASON = re.compile(r"#\s*type:\s*ignore\[[\w,-]+\]\s+#\s*\S")


def imported_modules(source: str) -> set[str]:
    """Every module an `import`, a `from … import` or an `importlib.import_module("…")` names."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            names.update(
                arg.value for arg in node.args[:1] if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            )
    return names


def imports_bot(source: str) -> bool:
    return any(name == "bot" or name.startswith("bot.") for name in imported_modules(source))


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_the_import_scan_sees_every_form_of_import():
    assert imports_bot("import bot.settings")
    assert imports_bot("from bot import settings")
    assert imports_bot("def f():\n    from bot.cli import cli\n")
    assert imports_bot("import importlib\nimportlib.import_module('bot.answer')")
    assert not imports_bot("import botocore\nfrom index.bottle import x\n")


def test_index_never_imports_bot():
    files = python_files("index")
    assert len(files) >= 10, f"the scan found only {len(files)} files under index/"
    offenders = [str(path.relative_to(ROOT)) for path in files if imports_bot(path.read_text())]
    assert offenders == [], f"index/ must not import bot/: {offenders}"


def test_every_type_ignore_names_its_code_and_reason():
    lines = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in ("bot", "index")
        for path in python_files(folder)
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if TYPE_IGNORE.search(line) and not IGNORE_WITH_REASON.search(line)
    ]
    assert lines == [], "each `# type: ignore[code]` needs `  # why` after it:\n" + "\n".join(lines)


def test_the_reason_rule_tells_bare_ignores_from_explained_ones():
    assert IGNORE_WITH_REASON.search("x = f()  # type: ignore[arg-type]  # the stubs say int")
    assert not IGNORE_WITH_REASON.search("x = f()  # type: ignore[arg-type]")
    assert not IGNORE_WITH_REASON.search("x = f()  # type: ignore  # no code")
