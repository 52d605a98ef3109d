"""Accessibility in the browser tests: axe-core (from npm, installed by bin/setup) run on
the page as it stands; a serious or critical violation fails the test, naming each rule
and the elements it found."""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}


def blocking_violations(page) -> list[str]:
    """Each serious or critical axe-core violation on `page`, as 'rule: targets'."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{violation['id']} ({violation['impact']}): {', '.join(str(node['target']) for node in violation['nodes'])}"
        for violation in results["violations"]
        if violation["impact"] in BLOCKING
    ]


def assert_accessible(page) -> None:
    violations = blocking_violations(page)
    assert not violations, f"axe-core on {page.url}:\n" + "\n".join(violations)
