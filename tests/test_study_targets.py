"""What a report concludes from a study's numbers: each target checked against its mean AUROCs,
met or missed by how much, in its own section (a target the study cannot check is refused when
the config loads); and where the quality-cost frontier bends."""

import dataclasses
import runpy

import pytest

from anogan_jax.runs.config import RunError
from anogan_jax.studies.config import Target
from anogan_jax.studies.numbers import target_results
from anogan_jax.studies.sections import describe_target, frontier_bend
from anogan_jax.studies.sections import targets as targets_section
from tests.test_study import TINY

STUDY = dataclasses.replace(
    TINY,
    classes=(0, 1, 2),
    published={"paper": {0: 90.0, 1: 80.0, 2: 70.0}},
    complexity=("anogan",),
)
# anogan: 85 / 70 / 75 (mean 76.7); fanogan: 95 / 90 / 92 (92.3); its ensemble 96 / 91 / 93
# (93.3); anogan_ic only on classes 1-2: 79 / 74.
AUROC = {
    "anogan": {0: (85.0, 1.0, 2), 1: (70.0, 1.0, 2), 2: (75.0, 1.0, 2)},
    "fanogan": {0: (95.0, 1.0, 2), 1: (90.0, 1.0, 2), 2: (92.0, 1.0, 2)},
    "fanogan_ens": {0: (96.0, 0.0, 1), 1: (91.0, 0.0, 1), 2: (93.0, 0.0, 1)},
    "anogan_ic": {1: (79.0, 1.0, 2), 2: (74.0, 1.0, 2)},
}


def _check(*targets, auroc=AUROC):
    return target_results(dataclasses.replace(STUDY, targets=targets), auroc)


def test_a_mean_target_takes_the_best_row_that_has_every_finished_class():
    (mean,) = _check(Target("f-AnoGAN >= 93.5", ("fanogan", "fanogan_ens"), at_least=93.5))
    assert mean["met"] is False
    assert mean["gap"] == pytest.approx(93.0 + 1 / 3 - 93.5)
    assert describe_target(mean) == "best `fanogan_ens` 93.3; `fanogan` 92.3"
    (best,) = _check(Target("best >= 90", at_least=90.0))
    assert best["met"] is True and best["gap"] == pytest.approx(3.0 + 1 / 3)
    # anogan_ic lacks class 0: its mean (76.5) is over other classes, so it is not counted.
    assert (
        describe_target(best) == "best `fanogan_ens` 93.3 (not counted, fewer classes: `anogan_ic`)"
    )


def test_a_than_target_compares_over_the_classes_both_have():
    (beats,) = _check(Target("ic beats f", ("anogan_ic",), than="fanogan"))
    assert beats["met"] is False
    assert beats["gap"] == pytest.approx(76.5 - 91.0)
    assert describe_target(beats) == "`anogan_ic` 76.5 vs `fanogan` 91.0 (-14.5, 2 classes)"
    (fine,) = _check(Target("f beats search", ("fanogan",), than="anogan"))
    assert fine["met"] is True and fine["gap"] == pytest.approx(92.0 + 1 / 3 - (76.0 + 2 / 3))


def test_a_per_class_target_names_every_class_short_and_counts_only_full_rows():
    target = Target("close", ("anogan", "anogan_ic"), reference="paper", within=3.0)
    (close,) = _check(target)
    # anogan: 85 - 90 = -5 (class 0, 2 more than 3 under), 70 - 80 = -10 (7 under), 75 - 70 = +5.
    assert close["met"] is False
    assert close["gap"] == pytest.approx(-7.0)
    assert describe_target(close) == (
        "`anogan` (classes 0-2): 2 classes more than 3 under: 0 by 5.0, 1 by 10.0; "
        "`anogan_ic` (classes 1-2, not counted): every class within 3 (closest: class 1, -1.0)"
    )
    # With class 0 out of the finished set, anogan_ic has every class and decides.
    partial = {m: {c: v for c, v in by.items() if c != 0} for m, by in AUROC.items()}
    (close,) = _check(target, auroc=partial)
    assert close["met"] is True and close["gap"] == pytest.approx(2.0)


def test_targets_without_numbers_are_not_yet_measured_and_the_section_says_so():
    study = dataclasses.replace(
        STUDY,
        targets=(
            Target("best >= 99", at_least=99.0),
            Target("f beats search", ("fanogan",), than="anogan"),
        ),
    )
    assert [t["met"] for t in target_results(study, {})] == [None, None]
    lines = targets_section(study, {"fanogan": {0: (95.0, 1.0, 2)}, "anogan": {0: (85.0, 1.0, 2)}})
    assert lines[1] == "## Targets"
    assert "checked over the 1 classes finished of 3, so the verdicts are provisional" in lines[3]
    assert lines[-2] == "| best >= 99 | best `fanogan` 95.0 | **missed by 4.0** |"
    assert lines[-1] == (
        "| f beats search | `fanogan` 95.0 vs `anogan` 85.0 (+10.0, 1 class) | met (+10.0) |"
    )
    assert targets_section(STUDY, AUROC) == []


@pytest.mark.parametrize(
    "target, message",
    [
        (Target("two kinds", ("anogan",), at_least=90.0, than="fanogan"), "exactly one of"),
        (Target("half", ("anogan",), reference="paper"), "exactly one of"),
        (Target("nobody", than="anogan"), "name the methods"),
        (Target("typo", ("anogna",), than="fanogan"), r"names \['anogna'\]"),
        (Target("no paper", ("anogan",), reference="book", within=3.0), "not among its published"),
    ],
)
def test_targets_the_study_cannot_check_are_refused_when_it_loads(target, message):
    with pytest.raises(RunError, match=message):
        dataclasses.replace(STUDY, targets=(target,))


def test_the_conv_study_carries_the_issuestargets_section():
    study = runpy.run_path("experiments/configs/mnist_one_class_normal_fanogan_dcgan28_light.py")[
        "STUDY"
    ]
    kinds = {t.label: t.kind() for t in study.targets}
    assert kinds == {
        "f-AnoGAN mean >= 97.5 (OCGAN)": "at_least",
        "best method >= 98.3 (ARNet)": "at_least",
        "f-AnoGAN at least as good as the AnoGAN search": "than",
        "no class of the search more than 3 points under the published AnoGAN": "within",
    }
    within = study.targets[-1]
    assert within.methods == ("anogan", "anogan_ic") and within.within == 3.0


def _point(method, auroc, rate):
    return {"method": method, "auroc": auroc, "images_per_s": rate, "classes": 3}


def test_frontier_that_does_not_bend_says_the_fastest_is_the_best():
    text = frontier_bend(
        [
            _point("fanogan", 96.5, 3000.0),
            _point("hybrid10", 90.9, 250.0),
            _point("anogan", 81.2, 6.0),
        ]
    )
    assert text == (
        "The frontier does not bend: `fanogan`, the fastest method, is also the best (96.5); no "
        "slower method buys any AUROC back. Off the frontier (slower, and no better than a faster "
        "method): `hybrid10`, `anogan`."
    )
    assert frontier_bend([]) == ""


def test_frontier_bends_where_a_tenfold_slowdown_buys_the_least_more():
    # 1000 -> 100 images/s buys 6 points, 100 -> 10 buys 1 more, 10 -> 1 another 0.5; the
    # 5-images/s method is slower than the 10 and worse: off the frontier.
    text = frontier_bend(
        [
            _point("one_pass", 90.0, 1000.0),
            _point("h10", 96.0, 100.0),
            _point("h100", 97.0, 10.0),
            _point("worse", 96.5, 5.0),
            _point("search", 97.5, 1.0),
        ]
    )
    assert text == (
        "Along the frontier from `one_pass` (90.0): `h10` +6.0 for 10x the time (6.0 points per "
        "tenfold); `h100` +1.0 for 10x the time (1.0 points per tenfold); `search` +0.5 for 10x "
        "the time (0.5 points per tenfold). It bends at `h10`: up to it a tenfold slowdown buys "
        "6.0 points, beyond it 1.0. Off the frontier (slower, and no better than a faster "
        "method): `worse`."
    )


def test_of_two_equally_fast_methods_the_worse_is_off_the_frontier():
    text = frontier_bend([_point("a", 90.0, 100.0), _point("b", 92.0, 100.0)])
    assert text.startswith("The frontier does not bend: `b`")
    assert text.endswith("method): `a`.")
