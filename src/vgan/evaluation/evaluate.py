"""`vgan evaluate RUN_DIR`: the metrics that fit a run's dataset, printed and saved as evaluate.json."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Dict, List, Optional

import torch

from .._utils.atomic import atomic_file, write_atomic
from .._utils.checks import at_least, optional, require
from .._utils.errors import ConfigError, DataError
from ..data import DATASETS, Toy2D, as_float, load_dataset
from ..model.energy import expert_rank
from ..model.mcmc import MALA
from ..model.model import Model
from ..runs import load_run
from ..runs.outputs import check_finite, check_output
from .classifier import load_classifier
from .likelihood import AIS, ais_log_z, log_likelihood, quadrature_log_z, raise_log_likelihood
from .metrics import energy_auroc, fid_kid, stacked_modes, toy_modes

OOD_PAIRS = {"mnist": ("fashion-mnist",), "fashion-mnist": ("mnist",), "cifar10": ("svhn",), "svhn": ("cifar10",)}
DEFAULT_N = {"modes": 2500, "fid": 10_000}  # samples; StackedMNIST studies use 26,000 (--n 26000)


def metrics_for(dataset: str) -> List[str]:
    if isinstance(DATASETS[dataset], Toy2D) or dataset == "stackedmnist":
        return ["modes", "loglik"]
    return ["fid", "ood", "loglik"]


def generate(model: Model, n: int, chunk: int = 100, mala: Optional[MALA] = None, stats: Optional[dict] = None):
    """n samples from a run, on the CPU (`Model.samples` with seed 0, `chunk` at a time): G(z), the
    chains of a CD run, or one transition of each of the first n validation images. With
    `ema_decay` the averaged weights draw them; with `mala` (steps > 0) the latents first take MALA
    steps on E(G(z)) (`Model.mala_samples`), whose acceptance goes into `stats`."""
    if mala is None or not mala.steps:
        return model.samples(n, seed=0, chunk=chunk).cpu()
    x, accepted = model.mala_samples(n, mala, seed=0, chunk=chunk)
    if stats is not None:
        stats.update(accepted)
    return x.cpu()


def landscape(model: Model, samples: torch.Tensor, out: Path, steps: int = 200) -> Path:
    """The learned energy over [0, 1]^2 with samples on top (a matplotlib PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axis = torch.linspace(0, 1, steps)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1).view(-1, 2).to(model.device)
    alone = model.energy.alone()  # one point at a time
    with torch.no_grad():
        energy = torch.cat([alone(g).energy for g in grid.split(4096)]).view(steps, steps).cpu()
    fig, ax = plt.subplots(figsize=(5, 5))
    im = ax.imshow(energy.numpy(), origin="lower", extent=(0, 1, 0, 1), cmap="viridis")
    ax.scatter(samples[:, 0], samples[:, 1], s=2, c="white", alpha=0.5)
    ax.set_title(f"E(x) and {len(samples)} samples, {model.cfg.name}")
    fig.colorbar(im, ax=ax, fraction=0.046)
    with atomic_file(out) as f:  # never through a symlink planted in the run directory
        fig.savefig(f, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return out


def evaluate(
    run_dir: str | Path,
    metrics: Optional[List[str]] = None,
    n: Optional[int] = None,
    device: str = "cpu",
    ais: Optional[AIS] = None,
    mala: Optional[MALA] = None,
    checkpoint: str = "last.pt",
) -> Dict[str, object]:
    """Run the metrics that fit the run's dataset (or `metrics`), save `RUN_DIR/evaluate.json`.
    `loglik` is the test split's mean log p(x) under p ~ exp(-E) on [0, 1]^d, with log Z by AIS
    (`likelihood.ais_log_z` with the settings `ais`, e.g. AIS(chains=50, temperatures=5000)). With
    `mala` the samples of `modes` and `fid` are G(z) after MALA in latent space (MEG's sampler)."""
    require(n, optional(at_least(2)), "--n", "generate 2 or more samples (the generator's batch norm needs 2)")
    for name in ("evaluate.json", "energy_landscape.png"):  # what it writes, checked before the work
        check_output(Path(run_dir) / name, suffix=Path(name).suffix, what="the evaluation's", default=name)
    model = load_run(run_dir, checkpoint, device)
    if mala is not None and mala.steps:
        model.require_generator("--mala-steps")  # before the work
    dataset = model.cfg.dataset
    metrics = metrics or metrics_for(dataset)
    unknown = set(metrics) - set(metrics_for(dataset))
    if unknown:
        raise ConfigError(
            f"metric(s) {', '.join(sorted(unknown))} do not apply to {dataset}; "
            f"choose from {', '.join(metrics_for(dataset))}"
        )
    results: Dict[str, object] = {"run": str(run_dir), "dataset": dataset, "step": model.step}
    if "modes" in metrics:
        count = n or DEFAULT_N["modes"]
        samples = generate(model, count, mala=mala, stats=results)
        results["samples"] = len(samples)
        if isinstance(DATASETS[dataset], Toy2D):
            results.update(toy_modes(samples, DATASETS[dataset]))
            results["figure"] = str(landscape(model, samples, model.run_dir / "energy_landscape.png"))
        else:
            results.update(stacked_modes(samples, load_classifier("mnist", device, model.cfg.data_dir)))
    if "fid" in metrics:
        count = n or DEFAULT_N["fid"]
        classifier = load_classifier(dataset, device, model.cfg.data_dir)
        test = load_dataset(dataset, "test", model.cfg.data_dir).images[:count]
        val = load_dataset(dataset, "val", model.cfg.data_dir).images[:count]
        results["samples"] = len(test)
        results.update(fid_kid(test, generate(model, len(test), mala=mala, stats=results), classifier))
        floor = fid_kid(test, val, classifier)  # what two samples of real data score
        results.update({"fid_real_floor": floor["fid"], "kid_real_floor": floor["kid"]})
    if "ood" in metrics:
        inliers = load_dataset(dataset, "test", model.cfg.data_dir).images
        gen = torch.Generator().manual_seed(0)
        energy = model.energy.alone()  # scores one image at a time
        results["auroc_vs_uniform_noise"] = energy_auroc(
            energy, inliers, torch.randint(0, 256, inliers.shape, generator=gen, dtype=torch.uint8)
        )
        for other in OOD_PAIRS.get(dataset, ()):
            try:
                outliers = load_dataset(other, "test", download=False).images
            except DataError as e:
                results[f"auroc_vs_{other}"] = f"skipped: {e}"
                continue
            if outliers.shape[1:] == inliers.shape[1:]:
                results[f"auroc_vs_{other}"] = energy_auroc(energy, inliers, outliers)
    if "loglik" in metrics:
        results.update(test_log_likelihood(model, ais))
    if model.cfg.energy == "multimodal":
        results.update(expert_ranks(model))
    check_finite(results, f"the evaluation of {run_dir}")
    write_atomic(model.run_dir / "evaluate.json", json.dumps(results, indent=2))
    return results


def test_log_likelihood(model: Model, ais: Optional[AIS] = None, raise_inputs: int = 100) -> Dict[str, float]:
    """The test split's mean log-likelihood (nats per input, bits per dimension) under the run's
    energy read one input at a time, with log Z by forward AIS (an estimate from above) and its
    spread over independent runs; beside it RAISE's estimate from below on the first `raise_inputs`
    test inputs (`likelihood.raise_log_likelihood`) and AIS's value on those same inputs
    (`loglik_nats_on_raise_inputs`). Far apart, the chains did not mix. On 2-D data
    the exact value by quadrature (`likelihood.quadrature_log_z`) comes too, as `..._quadrature`."""
    ais = ais or AIS()
    energy = model.energy.alone()
    test = as_float(load_dataset(model.cfg.dataset, "test", model.cfg.data_dir).images).to(model.device)
    start = time.perf_counter()
    z = ais_log_z(energy, model.image_shape, ais, device=model.device)
    lower = raise_log_likelihood(energy, test[:raise_inputs], ais)
    lower["loglik_nats_on_raise_inputs"] = log_likelihood(energy, test[:raise_inputs], z.log_z)["loglik_nats"]
    exact = {}
    if len(model.image_shape) == 1 and model.image_shape[0] <= 2:
        log_z = quadrature_log_z(energy, model.image_shape[0], device=model.device)
        exact = {f"{k}_quadrature": v for k, v in log_likelihood(energy, test, log_z).items()}
        exact["log_z_quadrature"] = log_z
    return {
        **log_likelihood(energy, test, z.log_z),
        **lower,
        **exact,
        "log_z": z.log_z,
        "log_z_std": z.log_z_std,
        "ais_acceptance": z.acceptance,
        "ais_chains": z.chains * len(z.log_z_runs),
        "ais_runs": len(z.log_z_runs),
        "ais_temperatures": z.temperatures,
        "raise_inputs": min(raise_inputs, len(test)),
        "ais_seconds": round(time.perf_counter() - start, 1),
    }


@torch.no_grad()
def expert_ranks(model: Model, n: int = 1000, chunk: int = 100) -> Dict[str, float]:
    """`expert_rank` of Eq. 8's experts (1: all copies of one) on the first n test images and on
    n samples, each the mean over batches of `chunk`, as training logs it."""
    test = as_float(load_dataset(model.cfg.dataset, "test", model.cfg.data_dir).images[:n])
    out, energy = {}, model.energy.alone()
    for name, x in (("expert_rank_data", test), ("expert_rank_samples", generate(model, len(test), chunk))):
        ranks = [expert_rank(energy(b.to(model.device)).logits) for b in x.split(chunk)]
        out[name] = torch.stack(ranks).mean().item()
    return out
