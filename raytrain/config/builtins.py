"""Built-in names and the keyword arguments each accepts (torch-free declarations).

Plain data: `raytrain.config.registry` builds its registries from these tuples, so this
module imports nothing of the registry's. Keep `params` equal to the implementation's
keyword arguments (tests check it). Keys in `data_injected` are filled from the data module
at build time and are not user-settable.
"""

from __future__ import annotations

from raytrain.config.entry import Entry

# ---- models -------------------------------------------------------------------------------
MODELS: tuple[Entry, ...] = (
    Entry(
        name="mlp",
        target="raytrain.models.mlp:MLPClassifier",
        params={"hidden": 128, "depth": 2, "dropout": 0.1, "activation": "relu"},
        data_injected=("input_dim", "num_classes"),
        description="multi-layer perceptron classifier; logs train_loss, val_loss, val_acc",
    ),
    # Generative models (issue 7): `loss` is passed by the runner from the config's `loss:`
    # mapping, so it is neither a user kwarg here nor data-injected (terms: config/loss_terms.py).
    Entry(
        name="autoencoder",
        target="raytrain.models.autoencoder:Autoencoder",
        params={
            "encoder_hidden": 128,
            "decoder_hidden": 128,
            "depth": 2,
            "latent_dim": 16,
            "latent": "linear",
            "codebook_size": 64,
            "commitment_weight": 0.25,
            "activation": "relu",
        },
        data_injected=("input_dim",),
        description="MLP autoencoder with a none | linear | vq latent bottleneck; "
        "logs train_loss, val_recon, val_loss (+ codebook usage/perplexity for vq)",
    ),
    Entry(
        name="vae",
        target="raytrain.models.vae:VAE",
        params={
            "encoder_hidden": 128,
            "decoder_hidden": 128,
            "depth": 2,
            "latent_dim": 8,
            "beta": 1.0,
            "kl_anneal_epochs": 0,
            "cycle_epochs": 0,
            "free_bits": 0.0,
            "activation": "relu",
        },
        data_injected=("input_dim",),
        description="Gaussian VAE with KL annealing (linear/cyclical) and free bits; "
        "logs val_recon, val_kl, val_loss, kl_per_dim",
    ),
)

# ---- data ---------------------------------------------------------------------------------
DATA: tuple[Entry, ...] = (
    Entry(
        name="digits",
        target="raytrain.data.digits:DigitsDataModule",
        params={"batch_size": 64, "val_fraction": 0.2, "split_seed": 0, "num_workers": 0},
        description="scikit-learn's bundled 8x8 digits (1797 images, 10 classes), standardised",
    ),
    Entry(
        name="synthetic",
        target="raytrain.data.synthetic:SyntheticDataModule",
        params={
            "num_samples": 2000,
            "num_features": 20,
            "num_classes": 4,
            "noise": 0.5,
            "batch_size": 64,
            "val_fraction": 0.2,
            "split_seed": 0,
            "num_workers": 0,
        },
        description="seeded Gaussian-blob classification data of any size",
    ),
)

# ---- optimizers (params: the torch.optim keyword arguments accepted) ------------------------
_ADAM = {
    "lr": 1e-3,
    "betas": (0.9, 0.999),
    "eps": 1e-8,
    "weight_decay": 0.0,
    "amsgrad": False,
}
OPTIMIZERS: tuple[Entry, ...] = (
    Entry("adam", "torch.optim:Adam", {**_ADAM, "decoupled_weight_decay": False}),
    Entry("adamw", "torch.optim:AdamW", {**_ADAM, "weight_decay": 1e-2}),
    Entry(
        "sgd",
        "torch.optim:SGD",
        {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
    ),
    Entry(
        "rmsprop",
        "torch.optim:RMSprop",
        {
            "lr": 1e-2,
            "alpha": 0.99,
            "eps": 1e-8,
            "weight_decay": 0.0,
            "momentum": 0.0,
            "centered": False,
        },
    ),
    Entry(
        "adagrad",
        "torch.optim:Adagrad",
        {
            "lr": 1e-2,
            "lr_decay": 0.0,
            "weight_decay": 0.0,
            "initial_accumulator_value": 0.0,
            "eps": 1e-10,
        },
    ),
)

# ---- lr schedulers (params: accepted keys besides `name` and `warmup_epochs`) ----------------
LR_SCHEDULERS: tuple[Entry, ...] = (
    Entry("none", "raytrain.optim.lr_schedulers:no_scheduler", {}),
    Entry("cosine", "raytrain.optim.lr_schedulers:cosine", {"eta_min": 0.0}),
    Entry("step", "raytrain.optim.lr_schedulers:step", {"step_size": 10, "gamma": 0.1}),
    Entry(
        "plateau",
        "raytrain.optim.lr_schedulers:plateau",
        {"factor": 0.1, "patience": 5, "min_lr": 0.0, "monitor": None},
    ),
)
