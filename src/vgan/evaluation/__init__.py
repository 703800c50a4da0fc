"""Evaluations of trained runs: classifiers, transition figures and metrics (Figures 3-5)."""

from .augment import Table2Classifier, augment, train_augmented
from .classifier import accuracy, load_classifier, train_classifier
from .evaluate import evaluate, generate
from .metrics import energy_auroc, fid_kid, stacked_modes, toy_modes
from .probe import linear_probe, probe
from .transitions import chain, reconstruct, transition_metrics

__all__ = [
    "accuracy",
    "load_classifier",
    "train_classifier",
    "chain",
    "reconstruct",
    "transition_metrics",
    "evaluate",
    "generate",
    "energy_auroc",
    "fid_kid",
    "stacked_modes",
    "toy_modes",
    "linear_probe",
    "probe",
    "Table2Classifier",
    "augment",
    "train_augmented",
]
