"""MNIST, one class normal, with f-AnoGAN's own recipe (`_fanogan.py`) on the convolutional
`dcgan28_light` GAN: the same settings, fixed in advance, as the MLP study
`mnist_one_class_normal_fanogan_mlp`, whose means the report shows beside the published rows
and the old recipe's. Only the architecture differs (G: Linear to 7x7x256, two stride-2
transposed convolutions; critic: two stride-2 convolutions with LayerNorm under WGAN-GP, a
linear head; the izi_f encoder is the critic's trunk with a linear layer to z).

    python -m experiments.run_study \\
        experiments/configs/mnist_one_class_normal_fanogan_dcgan28_light.py

Budget, from this machine's benchmarks (2 cores, quiet): about 45 min of GAN training, 35 min
of encoder training and 10 min of scoring per class (3 seeds), so about 15 hours in all; the
runner resumes, so it runs in the background over several sessions. Measured (the report's
wall time, `training_time.json`): classes 0-3, on one core shared with other work, about 4 h
per class; classes 4-9, alone on both cores, 1 h 14 min to 1 h 31 min; all 10 classes 17.4 h
of training and 4.6 h of scoring.
"""

from experiments.configs._common import main_study_means
from experiments.configs._fanogan import COMPLEXITY, fanogan_study, saving_often
from experiments.configs.mnist_one_class_normal import ANOGAN, OC_DEEP_SVDD, OCGAN

STUDY = fanogan_study(
    "mnist_one_class_normal_fanogan_dcgan28_light",
    "mnist",
    "one_class_normal",
    "mnist_one_class_normal_long",
    arch="dcgan28_light",
    complexity=COMPLEXITY,
    published={
        "AnoGAN (Ruff+ 2018)": ANOGAN,
        "OC Deep SVDD (Ruff+ 2018)": OC_DEEP_SVDD,
        "OCGAN (Perera+ 2019)": OCGAN,
        **main_study_means(
            "mnist_one_class_normal_fanogan_mlp",
            ("anogan", "fanogan", "fanogan_img", "hybrid"),
            "MLP GAN, same recipe",
        ),
    },
    notes=(
        "\nThe same recipe as `mnist_one_class_normal_fanogan_mlp`, fixed before any cell of "
        "this study ran; only the GAN architecture differs, so the MLP rows beside it are the "
        "architecture comparison.\n"
        "Two probes on class 0, run after its cells were in (so after its test labels were "
        "seen); neither changed the recipe. (1) Why the search falls short there (AUROC "
        "85.6 / 84.6 / 85.5 over the seeds against f-AnoGAN's 99.5 / 99.6 / 99.5): on seed 0 "
        "the search's AUROC of 0 vs 1 alone is 51.9 (f-AnoGAN 99.4), and its lowest-scored "
        "test images are 1s that G(z*), a generator trained on zeros only, reproduces almost "
        "exactly (`extremes_class0_anogan_seed0.png`, the score folder's `extremes.png`); "
        "E(x), trained on zeros, does not map a 1 to such a z. Each search step from E(x) "
        "moves toward the search's ranking (10 / 30 steps: 97.4-97.9 / 93.2-94.1). (2) Keeping "
        "z in the ball that holds 99.9% of the prior's mass (`--clip-to-prior`, radius 12.2; "
        "the free search ends at |z| 12.4 for normal test images, 18.6 for anomalies) does not "
        "help: seed 0, a 300-image subsample, AUROC 88.5 free and 86.1 in the ball.\n"
        "Where the cells were computed (before the per-cell record of it): in a worktree on a "
        "2-core Intel Xeon, the process under `taskset -c 1` (one usable core) from its start; "
        "class 0 at commits d9b61df, b36eed0 and ec0ffd6 (between them a resume fix and the "
        "checkpoint frequency; a resumed run is bit-identical), classes 1-3 at ec0ffd6.\n"
        "From class 4 on, the machine's state (run folders, checkpoints) did not survive from "
        "one working session to the next, so a class half-trained at a session's end was lost: "
        "each later class runs alone in one process over both cores (no `taskset`), which "
        "finishes a class within a session; each cell's timings record the cores it had.\n"
        "The rows `anogan_ic`, `fanogan_img_ic` and `hybrid_ic` (input complexity, see above) "
        "were added before class 4 was scored and before any of their numbers was computed; "
        "classes 0-3 have none, because their score folders were gone by then. On class 4, "
        "their first, the search rises from 84.4 to 92.0 (published AnoGAN 89.4), the image "
        "term from 95.4 to 97.0 and the 100-step hybrid from 84.8 to 93.5; 4 vs 1 from 25.6 "
        "to 77.1 for the search. As on classes 0, 2 and 3, the plain search's shortfall on "
        "class 4 (5.0 points under the published AnoGAN value) is the 1s.\n"
        "Class 5: the search is 12.0 points under the published AnoGAN value (76.3 vs 88.3), "
        "the 1s again (5 vs 1: 30.4) and the 3s (5 vs 3: 70.8). The complexity rows help less "
        "than on class 4: 5 vs 1 rises to 76.2 for the search and from 77.3 to 96.7 for the "
        "image term, but the digits with more ink than a 5 lose (for the search, 5 vs 0, 3 and "
        "8: 92.1 to 85.5, 70.8 to 62.9, 90.0 to 81.6), so the search gains 3.8 points (80.1), "
        "the image term 0.2 (94.6) and the 100-step hybrid 3.9 (86.1). Class 5 took 1 h 31 min "
        "(GAN 50 min, of which 14 paused for a CI check; encoder 26 min; scoring 14 min).\n"
        "Class 6: the search 85.8 (published AnoGAN 94.7; 6 vs 1: 33.2), less the PNG bits "
        "91.9 (6 vs 1: 76.8); f-AnoGAN 98.4, the image term 98.2, less the PNG bits 99.1. "
        "1 h 14 min (GAN 35 min, encoder 25 min, scoring 14 min).\n"
        "Class 7: the search 88.3 (published AnoGAN 93.5; 7 vs 1: 42.4, 7 vs 9: 81.8), less "
        "the PNG bits 91.7, 1.8 under the published value (7 vs 1: 75.6, 7 vs 9: 78.0); "
        "f-AnoGAN 96.9 (seed ensemble 97.2), the image term 96.6, less the PNG bits 97.0. Its "
        "first run was cut at GAN step 116 when a session ended and started again from step 0 "
        "in the next (no checkpoint yet); that run took 1 h 14 min (GAN 36 min, encoder 24 "
        "min, scoring 14 min). Its cells came into these results with `--merge-from`.\n"
        "Class 8, the hardest: the search 62.5 (published AnoGAN 84.9), 8 vs 1 at 6.7: a GAN of "
        "8s reproduces 1s. Less the PNG bits the search gains 18.3 points (80.8; 8 vs 1: 72.9) "
        "and the image term 10.7 (84.3 to 95.0; 8 vs 1: 93.6), above OCGAN's 93.9; f-AnoGAN "
        "85.2 (seed ensemble 85.9; 8 vs 1: 30.3). 1 h 24 min (GAN 46 min, of which about 12 "
        "paused for a CI check; encoder 24 min; scoring 14 min).\n"
        "Class 9, the last: the search 84.4, 8.0 under the published AnoGAN 92.4 (9 vs 1: "
        "45.8, 9 vs 7: 59.0, 9 vs 4: 80.2); less the PNG bits 89.0, 3.4 under (9 vs 7: 67.8). "
        "f-AnoGAN 96.5 (seed ensemble 96.8), the image term 96.1, less the PNG bits 97.4; "
        "OCGAN 98.1. Started at the end of one session, it stopped at GAN step 465 with the "
        "session and resumed in the next from its step-370 checkpoint: the resumed process "
        "took 1 h 25 min, GAN training slowed by test runs beside it and about 12 min paused "
        "for a CI check (the run logs' GAN time, 62 min, counts these and the first "
        "process's 17 min); encoder 24 min.\n"
        "Against the issue's targets, over all 10 classes. The convolutional GAN lifts "
        "f-AnoGAN over the MLP GAN in every class but 1, where both are at 99.9 (mean 93.4 to "
        "95.4), and f-AnoGAN is above the search in every class (+15.0), as its paper "
        "reports. f-AnoGAN misses OCGAN's 97.5 by 2.1 and its seed ensemble by 1.6; that "
        "ensemble (95.9), the best row over all classes, misses ARNet's 98.3 by 2.4. The "
        "search falls from the MLP "
        "GAN's 91.8 to 80.4 and is more than 3 points under the published AnoGAN value in 9 "
        "classes: the convolutional generator, trained on one digit, also draws 1s (every "
        "class but 1 the search's hardest pair is N vs 1), and the search finds them; the "
        "encoder, trained on the normal digit only, does not. What was tried: this recipe, "
        "fixed in advance, on two "
        "architectures (both are rows); the complexity rows from class 4 on; the full "
        "`dcgan28` GAN on class 0 on a GPU (`mnist_one_class_normal_fanogan_dcgan28`: "
        "f-AnoGAN 99.6, the search 78.8, so a larger GAN does not mend the search); keeping z "
        "in the prior's ball (class 0, above: no help). Where the gap is: on classes 4-9 the "
        "image term less the PNG bits (96.7) is 0.8 under OCGAN on the same classes (97.5) and "
        "2.5 over the plain image term (94.2); its seed ensemble (`fanogan_img_ic_ens`, 97.1) "
        "is 0.4 under. That row and `hybrid_ic_ens` were added after this study had finished, "
        "so after its other rows' numbers were seen; they combine two label-free rows that "
        "were there, and choose nothing. Class 8 alone (f-AnoGAN 85.2, OCGAN 93.9) "
        "costs the f-AnoGAN mean 0.9 points. The next step: the complexity rows on classes 0-3, "
        "whose score folders were lost (so their models must be trained again, and their plain "
        "rows move by the run-to-run spread: about 5 h on this machine, or some 10 min a class "
        "on a GPU), which would say whether `fanogan_img_ic` reaches OCGAN over all ten "
        "classes; then the full `dcgan28` on the other classes when a GPU is lent.\n"
    ),
)

# Checkpoints often: this study runs over several sessions (see `saving_often`).
STUDY = saving_often(STUDY)
