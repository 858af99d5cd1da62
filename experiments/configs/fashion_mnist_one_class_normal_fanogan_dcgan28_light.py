"""Fashion-MNIST, one class normal, with f-AnoGAN's own recipe (`_fanogan.py`) on the
convolutional `dcgan28_light` GAN: the settings of `fashion_mnist_one_class_normal_fanogan_mlp`,
fixed in advance (this file was written before any cell of it ran), only the architecture
differs; the MLP study's means stand beside it as the architecture comparison.

    python -m experiments.run_study \\
        experiments/configs/fashion_mnist_one_class_normal_fanogan_dcgan28_light.py

Budget, from the MNIST conv study on this machine (one core): about 1.9 h per class (3 seeds),
so about 19 hours in all; the runner resumes, so it runs in the background over several
sessions. That figure came from the cells' timings, which miss the training done before a
resume; the MNIST conv study's run logs say about 4 h per class on one core shared with other
work, so about 40 h of one core, or 20 h on two (`--classes`, see the notes). Measured since:
class 0, alone on both cores, about 1.5 h (the report's wall time, `training_time.json`).
"""

from experiments.configs._common import main_study_means
from experiments.configs._fanogan import COMPLEXITY, fanogan_study, saving_often

STUDY = fanogan_study(
    "fashion_mnist_one_class_normal_fanogan_dcgan28_light",
    "fashion_mnist",
    "one_class_normal",
    "fashion_mnist_one_class_normal",
    arch="dcgan28_light",
    complexity=COMPLEXITY,
    published=main_study_means(
        "fashion_mnist_one_class_normal_fanogan_mlp",
        ("anogan", "fanogan", "fanogan_img", "hybrid"),
        "MLP GAN, same recipe",
    ),
    notes=(
        "\nThe same recipe as `fashion_mnist_one_class_normal_fanogan_mlp`, fixed before any "
        "cell of this study ran; only the GAN architecture differs. Published means under this "
        "protocol (no per-class column): GEOM 93.5, ARNet 93.9, the issue's target for the best "
        "method.\n"
        "How it is computed (planned before any cell ran, changed before any cell was in): one "
        "class at a time, in one process over both cores, so that a class finishes within one "
        "working session (the machine's state, a half-trained class with it, does not survive "
        "from one session to the next); each cell's timings record where it was computed. "
        "Since class 0, run folders have survived from one session to the next (processes "
        "still do not), so a class stopped with a session resumes from its last checkpoint in "
        "the next; the classes run one after another, in a worktree at commit 6a22929. That "
        "held until the session of 2026-12-01, whose machine was a new one (an Intel Xeon): "
        "the run folders were gone, and the half-trained class 6 with them. Classes 0-5 ran "
        "on an AMD EPYC at 6a22929; the code changes since then (to de0939d) move code, add "
        "checks and add derived rows, and leave every number a cell holds as it was. Class 6 "
        "ran from the start in the session of 2026-12-04, on an AMD EPYC again, at de0939d. "
        "Class 7 ran from the start in the session of 2026-12-05, on an AMD EPYC whose disk "
        "came empty (a new worktree), at 47e5525, whose changes since de0939d are this "
        "study's results and notes only. Classes "
        "8 and 9 ran on one NVIDIA H200 lent for 15 minutes (session of 2026-12-04), at "
        "de0939d, jax 0.11.2 with `XLA_FLAGS=--xla_gpu_deterministic_ops=true`, the seeds "
        "vmapped (the default off the CPU): about 5.6 min a class, where a class takes some "
        "80 min on the two CPU cores. Their cells are the same computation in other kernels, "
        "so they round differently from a CPU run: the study repeats byte for byte class by "
        "class, each on the machine its cells name (the report's 'computed on' lines). Class "
        "9's results folder was lost on the lent machine (its tracked copy of the results "
        "folder was restored before class 8 ran) while its run folder, score folders included, "
        "came back: its 18 cells were written from those score folders by the runner's own "
        "`study._cell` (each seed's `metrics.json` and `scores.csv`), the very path that wrote "
        "class 8's cells, which were rewritten that way to check it and came out byte-identical; "
        "class 9's timings are read off the run's progress bar (1 s resolution), and its "
        "derived rows were written by `--report-only`, then both classes came in with "
        "`--merge-from`.\n"
        "Class 0 (T-shirt/top): f-AnoGAN 90.0 (seed ensemble 90.2; the MLP GAN's 90.4), the "
        "search 83.6 (MLP 87.5; 0 vs 3, dress: 55.2, 0 vs 1, trouser: 72.3). Less the PNG bits "
        "the search rises to 91.8, the best row (0 vs 1: 99.7, 0 vs 3: 92.2), and the 100-step "
        "hybrid from 85.2 to 91.1, while f-AnoGAN's image term falls from 90.3 to 88.7 (0 vs "
        "6, shirt: 74.5 to 61.9; 0 vs 4, coat: 86.2 to 76.8). GAN 48 min and encoder 25 min "
        "(run logs), scoring about 17 min over two processes: a session ended during the "
        "search, which resumed in the next (the cells' timings count the second process only)."
        "\n"
        "Class 1 (trouser): f-AnoGAN 98.8 (MLP 98.5), the search 96.3 (MLP 97.1); the hardest "
        "pair is 1 vs 3, dress (f-AnoGAN 95.1, the search 86.8). Less the PNG bits the search "
        "gains 0.4 (96.7; 1 vs 3: 90.2) and the image term loses 0.3 (98.5). 1 h 14 min in one "
        "process (GAN 35 min, encoder 24 min, scoring 14 min).\n"
        "Class 2 (pullover): f-AnoGAN 87.6 (seed ensemble 87.8; MLP 87.5), the search 78.5 (MLP "
        "83.4); the hardest pairs are 2 vs 4, coat (f-AnoGAN 59.3, the search 52.1) and 2 vs 6, "
        "shirt (67.9, 68.3). Less the PNG bits the search rises to 87.3 (2 vs 4 falls to 47.2) "
        "and the image term moves from 87.5 to 87.7. GAN 46 min, encoder 40 min (run logs; "
        "other work of that session shared the machine, classes 0 and 1 took 24-25 min), "
        "scoring 15 min in a process of its own after a session ended.\n"
        "Class 3 (dress): f-AnoGAN 93.0 (seed ensemble 93.2; MLP 93.4), the search 91.3 (MLP "
        "94.2), the 10-step hybrid 93.5; the hardest pairs for f-AnoGAN are 3 vs 0, T-shirt "
        "(82.3), 3 vs 1, trouser (86.7) and 3 vs 6, shirt (86.8). Here the complexity discount "
        "hurts every row it touches: the search falls to 83.7 and the image term from 92.9 to "
        "80.5 (3 vs 0: 81.7 to 48.7; 3 vs 6: 86.7 to 48.5), as the dresses carry fewer PNG bits "
        "than the T-shirts and shirts they are told from (median over 300 test images of each "
        "class: 3,696, 4,512 and 4,668 bits). 1 h 18 min in one process (GAN 37 min, encoder "
        "26 min, scoring 15 min).\n"
        "Class 4 (coat): f-AnoGAN 90.0 (seed ensemble 90.2; MLP 88.7), the search 79.5 (MLP "
        "84.0); the hardest pairs for f-AnoGAN are 4 vs 2, pullover (68.2) and 4 vs 6, shirt "
        "(72.3), and for the search 4 vs 3, dress (52.3). Less the PNG bits the search rises to "
        "92.9, the best row of the class (4 vs 3: 95.8, 4 vs 1, trouser: 66.3 to 99.8), the "
        "100-step hybrid from 80.9 to 92.8 and the image term from 89.6 to 91.1; 4 vs 2 and 4 vs "
        "6 stay between 63 and 76 in every row. GAN 47 min and encoder 38 min by the run logs, "
        "which count two pauses of the process for CI checks of the code (about 16 min in the GAN, "
        "13 min in the encoder: about 31 and 25 min of work), scoring 16 min; the encoder "
        "resumed from its checkpoint at step 12400 in the next session.\n"
        "Class 5 (sandal): f-AnoGAN 90.3 (seed ensemble 90.5, the best row of the class; MLP "
        "89.9; the old recipe's 43.1), the search 88.7 (MLP 90.2), the 10-step hybrid 90.4. "
        "One pair holds every row back: 5 vs 7, sneaker (f-AnoGAN 43.2, the search 46.4, "
        "below chance), then 5 vs 9, ankle boot (77.1, 71.2). The complexity discount hurts: "
        "the search falls to 83.4 and the image term from 90.3 to 80.7, as 5 vs 9 falls to "
        "27.0 and 30.4 (ankle boots carry more PNG bits than sandals: median over 300 test "
        "images 4,104 against 3,464; sneakers 3,124, where 5 vs 7 gains 6-14 points). 1 h 24 "
        "min in one process (GAN 41 min, encoder 27 min, scoring 16 min; a few minutes of "
        "tests shared the machine during the GAN).\n"
        "Class 6 (shirt), the hardest class: f-AnoGAN 81.9 (seed ensemble 82.0; MLP 81.3), the "
        "search 64.8 (MLP 68.8). The shirt's neighbours hold every row back: f-AnoGAN's "
        "hardest pairs are 6 vs 0, T-shirt (55.1), 6 vs 2, pullover (58.2) and 6 vs 4, coat "
        "(59.2); the search is below chance on 6 vs 0, 3, 4 and 2 (39.4-48.6). Less the PNG "
        "bits the image term rises to 85.3, the best row of the class (6 vs 0: 54.5 to 66.3, "
        "6 vs 3, dress: 77.9 to 91.5), and the search to 83.6. 1 h 28 min in one process "
        "(GAN 44 min, encoder 29 min, scoring 16 min; a few minutes of merges and tests "
        "shared the machine).\n"
        "Class 7 (sneaker): f-AnoGAN 98.5 (seed ensemble 98.6; MLP 98.4), the search 97.2 "
        "(MLP 97.7), the 10-step hybrid 98.3. Every pair but two is at 99.8-100 in every plain "
        "row; the two are the other shoes, 7 vs 9, ankle boot (f-AnoGAN 91.8, the search "
        "91.2) and 7 vs 5, sandal (95.3, 83.4). The complexity discount hurts: the search "
        "falls to 96.0 and the image term from 98.5 to 95.3, as 7 vs 9 falls to 65-68 "
        "(sneakers carry fewer PNG bits than ankle boots: medians 3,124 and 4,104, the numbers "
        "of class 5's note), while 7 vs 5 gains (the search 83.4 to 97.2). 1 h 14 min in one "
        "process (GAN 35 min, encoder 25 min, scoring 14 min).\n"
        "Class 8 (bag): f-AnoGAN 89.5 (seed ensemble 90.2, the best row of the class; MLP "
        "84.5), the search 63.5 (MLP 77.5), the 10-step hybrid 79.0. The search fails on 8 vs "
        "7, sneaker (31.3, below chance; f-AnoGAN 79.8, its hardest pair) and stays under 61 "
        "on 8 vs 0, 3 and 5 (T-shirt, dress, sandal). Less the PNG bits the search rises to "
        "78.7 (8 vs 7: 96.0, 8 vs 5: 96.6) but falls on 8 vs 0 (58.0) and 8 vs 6, shirt (74.9 "
        "to 56.8); the image term falls from 88.2 to 82.8 (8 vs 6: 84.5 to 58.5, 8 vs 2, "
        "pullover: 89.3 to 67.6). On the H200: GAN 1.6 min, encoder 2.5 min (run logs), "
        "scoring 1.2 min.\n"
        "Class 9 (ankle boot): f-AnoGAN 97.7 (seed ensemble 97.8; MLP 94.9), the search 92.8 "
        "(MLP 94.3); one pair holds every plain row back, 9 vs 7, sneaker (f-AnoGAN 82.9, the "
        "search 57.3), then 9 vs 5, sandal (97.7, 81.3). Less the PNG bits the search rises to "
        "99.7 (9 vs 7: 98.5) and the 100-step hybrid to 99.8, the best row of the class; the "
        "image term to 99.2. On the H200: GAN 1.7 min, encoder 2.4 min (run logs), scoring "
        "1.2 min.\n"
        "Against the issue's targets, over all 10 classes. The convolutional GAN lifts "
        "f-AnoGAN over the MLP GAN from 90.7 to 91.7 (the seed ensembles 91.3 to 91.9), most in "
        "classes 8 and 9 (bag +5.0, ankle boot +2.8), and f-AnoGAN is above the search in "
        "every class (+8.1 on the mean; up to +26.0 on the bag), as its paper reports. The "
        "best row over all classes, f-AnoGAN's seed ensemble (91.9), misses ARNet's 93.9 by "
        "2.0 (GEOM's 93.5 by 1.6). What was tried: this recipe, fixed in advance, on two "
        "architectures (both are rows), seed ensembles, and the complexity rows: the search "
        "less the PNG bits gains 5.8 (89.4, still under f-AnoGAN) but loses on classes 3, 5 "
        "and 7, whose images carry fewer PNG bits than their neighbours'; the image term less "
        "the PNG bits loses 2.5 (89.0), gaining on classes 2, 4, 6 and 9 only. Where the gap "
        "is: the "
        "shape neighbours, the shirt above all (class 6 at 82.0, the ensemble's mean over the "
        "other nine classes 93.0, so class 6 alone costs 1.1 points), then pullover and coat "
        "against each other (2 vs 4, 4 vs 2 at 59-68) and the shoes against each other "
        "(5 vs 7 at 43). The next step: a longer GAN and encoder schedule, with the checkpoint "
        "chosen by FID on normal validation images (`--fid-every`), and the full `dcgan28`, "
        "both on a lent GPU, where a class takes minutes: this CPU spends some 80 min on a "
        "class at the present length. Wall time: 11.6 h of training and scoring (9.6 h and "
        "2.0 h, the report's setup lines), eight classes on the two CPU cores and two on the "
        "H200 in about 11 min.\n"
    ),
)

# Checkpoints often: this study runs over several sessions (see `saving_often`).
STUDY = saving_often(STUDY)
