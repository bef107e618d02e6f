"""Built-in names and the keyword arguments each accepts (torch-free declarations).

Keep `params` equal to the implementation's keyword arguments (tests check it). Keys in
`data_injected` are filled from the data module at build time and are not user-settable.
"""

from __future__ import annotations

from raytrain.config.registry import DATA, LR_SCHEDULERS, MODELS, OPTIMIZERS, Entry

# ---- models -------------------------------------------------------------------------------
MODELS.register(
    Entry(
        name="mlp",
        target="raytrain.models.mlp:MLPClassifier",
        params={"hidden": 128, "depth": 2, "dropout": 0.1, "activation": "relu"},
        data_injected=("input_dim", "num_classes"),
        description="multi-layer perceptron classifier; logs train_loss, val_loss, val_acc",
    )
)

# ---- data ---------------------------------------------------------------------------------
DATA.register(
    Entry(
        name="digits",
        target="raytrain.data.digits:DigitsDataModule",
        params={"batch_size": 64, "val_fraction": 0.2, "split_seed": 0, "num_workers": 0},
        description="scikit-learn's bundled 8x8 digits (1797 images, 10 classes), standardised",
    )
)
DATA.register(
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
    )
)

# ---- optimizers (params: the torch.optim keyword arguments accepted) ------------------------
_ADAM = {
    "lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False,
}
OPTIMIZERS.register(Entry("adam", "torch.optim:Adam", dict(_ADAM)))
OPTIMIZERS.register(Entry("adamw", "torch.optim:AdamW", {**_ADAM, "weight_decay": 1e-2}))
OPTIMIZERS.register(
    Entry(
        "sgd",
        "torch.optim:SGD",
        {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
    )
)
OPTIMIZERS.register(
    Entry(
        "rmsprop",
        "torch.optim:RMSprop",
        {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0,
         "centered": False},
    )
)
OPTIMIZERS.register(
    Entry(
        "adagrad",
        "torch.optim:Adagrad",
        {"lr": 1e-2, "lr_decay": 0.0, "weight_decay": 0.0, "initial_accumulator_value": 0.0,
         "eps": 1e-10},
    )
)

# ---- lr schedulers (params: accepted keys besides `name` and `warmup_epochs`) ----------------
LR_SCHEDULERS.register(Entry("none", "raytrain.trial.lr_schedulers:no_scheduler", {}))
LR_SCHEDULERS.register(
    Entry("cosine", "raytrain.trial.lr_schedulers:cosine", {"eta_min": 0.0})
)
LR_SCHEDULERS.register(
    Entry("step", "raytrain.trial.lr_schedulers:step", {"step_size": 10, "gamma": 0.1})
)
LR_SCHEDULERS.register(
    Entry(
        "plateau",
        "raytrain.trial.lr_schedulers:plateau",
        {"factor": 0.1, "patience": 5, "min_lr": 0.0, "monitor": None},
    )
)
