"""AnoGAN and f-AnoGAN as pure JAX functions over explicit pytrees.

The names a researcher imports, from the library floor only (``anogan_jax.runs``, which owns
run folders, and ``anogan_jax.studies`` stand above it and are imported by their own names)::

    import anogan_jax as ag

    models = ag.make_gan("mlp", image_shape=images.shape[1:])  # (H, W, C)
    g_tx, d_tx, n_critic = ag.default_optimizers("non_saturating")
    state = ag.init_gan_state(models, g_tx, d_tx, key)
    step = ag.make_gan_step(ag.get_objective("non_saturating"), models, g_tx, d_tx)
    search = ag.make_search(models, num_steps=100)

Networks come from ``models`` (the only module that imports flax); GAN losses from
``objectives``; the training states from ``state``; the jitted steps from ``train`` and
``encoder``; AnoGAN's batched latent search from ``latent_search``; per-image scores from
``scores``; detection metrics from ``metrics`` and ``pixel_metrics``; datasets and one-class
protocols from ``datasets`` and ``data``.
"""

from importlib import metadata as _metadata

from anogan_jax.data import (
    PROTOCOLS,
    BatchSampler,
    OneClassData,
    global_contrast_normalize,
    load_one_class,
    one_class_split,
)
from anogan_jax.datasets import DATASETS, Split, dataset_image_shape, load_dataset
from anogan_jax.devices import make_mesh
from anogan_jax.encoder import (
    encoder_loss,
    encoder_tx,
    make_encoder_step,
    make_fanogan_scorer,
)
from anogan_jax.errors import DataError, UserError
from anogan_jax.gan_metrics import fid, inception_score, kid
from anogan_jax.keys import named_keys, stream_key
from anogan_jax.latent_search import (
    SearchResult,
    initial_z,
    latent_objective,
    make_search,
    make_search_tx,
    pad_batch,
    search_one,
)
from anogan_jax.loop import NonFiniteError, fit
from anogan_jax.metrics import (
    auprc,
    auroc,
    best_f1,
    pr_curve,
    roc_curve,
    summarize,
    threshold_at_fpr,
)
from anogan_jax.models import (
    ARCHS,
    SPECS,
    ArchSpec,
    GANModels,
    Network,
    archs_fitting,
    check_arch,
    count_params,
    default_arch,
    default_latent_dim,
    get_spec,
    make_classifier,
    make_encoder,
    make_gan,
    supported_sizes,
)
from anogan_jax.objectives import (
    OBJECTIVES,
    Objective,
    default_optimizers,
    get_objective,
    gradient_penalty,
)
from anogan_jax.pixel_metrics import aupro, pixel_auroc, pro_curve
from anogan_jax.prior import PRIORS, sample_prior
from anogan_jax.scores import anogan_scores, fanogan_scores, residual_map
from anogan_jax.state import (
    EncoderState,
    GANState,
    d_variables,
    g_variables,
    init_encoder_state,
    init_gan_state,
)
from anogan_jax.train import jit_step, make_gan_step

try:
    __version__ = _metadata.version("anogan-jax")
except _metadata.PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    # models
    "ARCHS",
    "SPECS",
    "ArchSpec",
    "GANModels",
    "Network",
    "archs_fitting",
    "check_arch",
    "count_params",
    "default_arch",
    "default_latent_dim",
    "get_spec",
    "make_classifier",
    "make_encoder",
    "make_gan",
    "supported_sizes",
    # objectives and optimisers
    "OBJECTIVES",
    "Objective",
    "default_optimizers",
    "get_objective",
    "gradient_penalty",
    # states and keys
    "EncoderState",
    "GANState",
    "d_variables",
    "g_variables",
    "init_encoder_state",
    "init_gan_state",
    "named_keys",
    "stream_key",
    "PRIORS",
    "sample_prior",
    # training
    "fit",
    "jit_step",
    "make_gan_step",
    "make_mesh",
    "NonFiniteError",
    # AnoGAN's latent search
    "SearchResult",
    "initial_z",
    "latent_objective",
    "make_search",
    "make_search_tx",
    "pad_batch",
    "search_one",
    # f-AnoGAN's encoder
    "encoder_loss",
    "encoder_tx",
    "make_encoder_step",
    "make_fanogan_scorer",
    # scores and metrics
    "anogan_scores",
    "fanogan_scores",
    "residual_map",
    "auprc",
    "auroc",
    "best_f1",
    "pr_curve",
    "roc_curve",
    "summarize",
    "threshold_at_fpr",
    "aupro",
    "pixel_auroc",
    "pro_curve",
    "fid",
    "inception_score",
    "kid",
    # data
    "DATASETS",
    "PROTOCOLS",
    "BatchSampler",
    "OneClassData",
    "Split",
    "dataset_image_shape",
    "global_contrast_normalize",
    "load_dataset",
    "load_one_class",
    "one_class_split",
    # errors
    "DataError",
    "UserError",
    "__version__",
]
