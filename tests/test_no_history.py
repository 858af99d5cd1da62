"""The package, the study configs and the READMEs carry no history: which machine or day a result
was computed on, lent accelerators, working sessions, commit hashes, pauses, lost folders,
earlier attempts. That story belongs in commit messages; the provenance a result needs is in its
REPORT.md. Also: every relative link of the READMEs names a file in the tree."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# name -> pattern; each is searched case-insensitively, except the commit hash.
PATTERNS = {
    "a CPU model": r"\b(AMD|EPYC|Xeon|Ryzen|Graviton)\b",
    "an accelerator model": r"\b(H100|H200|A100|V100|TPU ?v\d)\b",
    "a lent machine": r"\b(lent|lease[ds]?)\b",
    "a working session": r"\bsessions?\b",
    "a busy or shared machine": (
        r"\b(busy|niced|quiet(ly)? (machine|runs?)|shared with other work)\b"
    ),
    # The articles the project started from, by their number or as "the seed ... GAN".
    "a source article": r"\bseeds? 0\d\d\b|\bthe seeds?'? (AnoGAN|Keras|PyTorch|MLP GAN)\b",
    "a date": r"\b20\d\d-[01]\d(-[0-3]\d)?\b",
    "a time on a machine": (
        r"(\babout|\bsome|~) ?[\d.,]+ ?(s|min|minutes?|h|hours?) (on|alone|beside)\b"
    ),
    "a machine's core count": r"\b\d-core\b|\b(both|two) (CPU )?cores\b",
    "a pause": r"\b(paused|SIGSTOP)\b",
    "an earlier attempt": (
        r"\b(what was tried|earlier (attempts?|sessions?|machines?)|first attempt)\b"
    ),
    "a lost folder": r"\b(was|were|got|been) lost\b|\blost (its|the|their) ",
}
# 7 to 40 lowercase hex digits with at least one digit and one letter: an abbreviated commit.
COMMIT = r"\b(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b"

REGEXES = {name: re.compile(p, re.IGNORECASE) for name, p in PATTERNS.items()}
REGEXES["a commit hash"] = re.compile(COMMIT)

# (file, pattern name) pairs that are not history.
ALLOWED = {
    # Provenance records the accelerator a cell ran on; its docstring shows such a record.
    ("anogan_jax/runs/provenance.py", "an accelerator model"),
}


def _scanned() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "experiments" / "results" / "README.md"]
    files += sorted(DOCS.rglob("*.md")) if DOCS.is_dir() else []
    files += sorted((ROOT / "anogan_jax").rglob("*.py"))
    files += sorted((ROOT / "experiments" / "configs").glob("*.py"))
    return [f for f in files if f.is_file()]


def history_hits(text: str, rel: str = "") -> list[tuple[int, str, str]]:
    """(line number, pattern name, matched text) of every history pattern in ``text``, less
    the ``ALLOWED`` ones for the file ``rel``."""
    hits = []
    for number, line in enumerate(text.splitlines(), start=1):
        for name, regex in REGEXES.items():
            if (rel, name) in ALLOWED:
                continue
            hits += [(number, name, m.group(0)) for m in regex.finditer(line)]
    return hits


@pytest.mark.parametrize(
    "text",
    [
        "on a 2-core AMD EPYC at 47e5525",
        "on one NVIDIA H200 lent for 15 minutes",
        "Class 0 ran in the session of 2026-12-05",
        "99.28% test accuracy in about 18 min on 2 busy CPU cores",
        "decoding 70,000 PNGs takes ~30 s on a small CPU",
        "for one image (seeds 001)",
        "the seed AnoGAN networks, layer for layer",
        "12 of them paused for a CI check",
        "What was tried: this recipe",
        "the new machine's folder was lost",
        "alone on both cores of the machine",
        "the tree of commit 6a22929",
    ],
)
def test_history_is_found(text):
    assert history_hits(text), text


@pytest.mark.parametrize(
    "text",
    [
        "tag = hashlib.sha256(where.encode()).hexdigest()[:12]",
        'f"--devices {devices}: this machine has {n} {platform} devices"',
        "scores are bit-identical for any --batch-size (tested with 1, 3, 7, 16 and 64)",
        "products like 0.29 * 100 = 28.999999999999996",
        "A file the package wrote earlier that can no longer be read",
        "the seeds' checkpoints are at different steps",
        "a silent failure, an excellent decade, 1e-5, 2.5e-7",
        "make test 4 min 14 s on 2 CPU cores with empty caches",
        "(Schlegl et al., IPMI 2017; Serra et al., ICLR 2020)",
    ],
)
def test_legitimate_text_is_not_history(text):
    assert history_hits(text) == [], text


@pytest.mark.parametrize("path", _scanned(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_history(path):
    rel = path.relative_to(ROOT).as_posix()
    hits = history_hits(path.read_text(encoding="utf-8"), rel)
    assert not hits, "\n".join(
        f"{rel}:{line}: {name}: {found!r} (history goes in the commit message; provenance in "
        "the study's REPORT.md)"
        for line, name, found in hits
    )


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _relative_links(md: Path) -> list[str]:
    """Targets of the Markdown links and images of ``md`` that name a file in the tree."""
    targets = [m.group(1) for m in LINK.finditer(md.read_text(encoding="utf-8"))]
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:|#", t)]


@pytest.mark.parametrize("md", ["README.md", "experiments/results/README.md"])
def test_readme_links_name_files_in_the_tree(md):
    md = ROOT / md
    links = _relative_links(md)
    assert links, f"{md} has no relative links: is the link pattern still right?"
    missing = []
    for target in links:
        path = (md.parent / target.split("#")[0]).resolve()
        if not DOCS.is_dir() and path.is_relative_to(DOCS):
            continue  # the docs site is not in this tree yet
        if not path.exists():
            missing.append(target)
    assert not missing, f"{md.relative_to(ROOT)} links to missing files: {missing}"


def test_readme_is_short():
    # The README is for users; per-study prose lives in experiments/results/.
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 160
