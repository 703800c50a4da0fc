"""A fixed classifier that judges generated images: label preservation, StackedMNIST's mode counts,
and the features of FID and KID. An evaluation instrument, not the paper's Table 2 classifier.

MNIST's ships inside the package (`weights/mnist_classifier.pt`, its SHA-256 and test accuracy in
`SHIPPED`): trained once, loaded on every machine, never retrained, so that an FID means the same
for every user and page. Other datasets' are trained on first use and cached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .._utils.errors import CheckpointError
from ..data import as_float, cache_dir, epoch_order, load_dataset, sha256, spans
from ..runs.checkpoint import load_checkpoint, save_checkpoint


class DigitClassifier(nn.Module):
    """(N, 1, 28, 28) in [0, 1] -> (N, 10) logits: [conv5-BN-ReLU-pool] x 2 -> dense 128 -> dense 10."""

    def __init__(self, in_channels: int = 1, size: int = 28, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 5, padding=2),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * (size // 4) ** 2, 128),
            nn.ReLU(),
        )  # penultimate layer (N, 128)
        self.out = nn.Linear(128, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x))


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Fraction of uint8 or [0, 1] float images (N, C, H, W) classified as `labels`."""
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for piece in spans(len(images), batch_size):
        correct += (model(as_float(images[piece].to(device))).argmax(1).cpu() == labels[piece]).sum().item()
    return correct / len(images)


def train_classifier(
    dataset: str = "mnist",
    *,
    epochs: int = 3,
    limit: Optional[int] = None,
    seed: int = 0,
    device: str = "cpu",
    data_dir: Optional[str] = None,
) -> DigitClassifier:
    """Train a DigitClassifier with Adam on the training split (first `limit` images if given)."""
    train = load_dataset(dataset, "train", data_dir)
    images, labels = train.images[:limit], train.labels[:limit]
    torch.manual_seed(seed)
    model = DigitClassifier(train.image_shape[0], train.image_shape[1]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * (len(images) // 100))
    for epoch in range(epochs):
        model.train()
        perm = epoch_order(len(images), seed=seed, epoch=epoch)
        for i in tqdm(range(len(images) // 100), desc=f"classifier epoch {epoch + 1}/{epochs}", disable=None):
            idx = perm[i * 100 : (i + 1) * 100]
            x, y = as_float(images[idx].to(device)), labels[idx].to(device)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


WEIGHTS = Path(__file__).parent / "weights"
SHIPPED = {  # dataset -> (file in WEIGHTS, its SHA-256, its test accuracy): `python benchmarks/classifier_weights.py`
    "mnist": ("mnist_classifier.pt", "101f0ce0abb5405525d110ba209a817ac2f7ccba8234130f51f1402f7bf99d6b", 0.9940),
}


def classifier_path(dataset: str = "mnist") -> Path:
    """Where the classifier of `dataset` is: in the package (MNIST's), else in the data cache."""
    if dataset in SHIPPED:
        return WEIGHTS / SHIPPED[dataset][0]
    return cache_dir() / "classifiers" / f"{dataset}.pt"


def _load(path: Path, device: str) -> DigitClassifier:
    state = load_checkpoint(path, device)
    model = DigitClassifier(*state["shape"])
    model.load_state_dict(state["model"])
    return model.to(device).eval()


def load_classifier(dataset: str = "mnist", device: str = "cpu", data_dir: Optional[str] = None) -> DigitClassifier:
    """The classifier for `dataset`: MNIST's from the package, checked against its SHA-256; another
    dataset's from the cache, trained (about 3 minutes on a 2-core CPU) on first use."""
    path = classifier_path(dataset)
    if dataset in SHIPPED:
        want = SHIPPED[dataset][1]
        if not path.is_file() or sha256(path.read_bytes()) != want:
            raise CheckpointError(
                f"the {dataset} classifier that ships with vgan ({path}) is missing or changed (its SHA-256 is not "
                f"{want[:12]}...); reinstall vgan (in a checkout: git checkout {path.name} in its folder)"
            )
        return _load(path, device)
    if path.is_file():
        return _load(path, device)
    model, acc = train_and_save(dataset, path, device=device, data_dir=data_dir)
    print(f"trained the {dataset} classifier: test accuracy {acc:.4f}; cached at {path}")
    return model


def train_and_save(
    dataset: str, path: Path, *, device: str = "cpu", data_dir: Optional[str] = None
) -> Tuple[DigitClassifier, float]:
    """Train the classifier of `dataset` (seed 0), measure its test accuracy, save both to `path`."""
    model = train_classifier(dataset, device=device, data_dir=data_dir)
    test = load_dataset(dataset, "test", data_dir)
    acc = accuracy(model, test.images, test.labels)
    save_checkpoint({"model": model.state_dict(), "shape": list(test.image_shape[:2]), "test_accuracy": acc}, path)
    return model, acc
