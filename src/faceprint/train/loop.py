"""The training loop: batches, loss, validation by verification accuracy, early stopping,
best/last checkpoints, resume, and per-epoch metrics (CSV, JSON, plot), on the CPU or a CUDA GPU
(``device``), with optional mixed precision (``amp``) for the backbone."""

from __future__ import annotations

import csv
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch.nn import functional as F

from faceprint import jsonout
from faceprint.errors import BadInput
from faceprint.eval import metrics
from faceprint.train.backbones.factory import chip_kind, create_backbone
from faceprint.train.checkpoint import read_checkpoint
from faceprint.train.config import TrainConfig
from faceprint.train.data import (Augment, AugmentedBatches, augment_batch, load_folder, relabel,
                                  single_threaded_opencv, split)
from faceprint.train.device import Placement, place, to_cpu
from faceprint.train.heads import MarginHead, make_head
from faceprint.train.losses import margin_cross_entropy, triplet_loss
from faceprint.train.miners import batch_hard, semi_hard
from faceprint.train.sampler import PKSampler

log = logging.getLogger(__name__)


def to_tensor(images: np.ndarray | torch.Tensor, device: torch.device | None = None) -> torch.Tensor:
    """(N, H, W, C) uint8 pixels -> (N, C, H, W) float on ``device``; the bytes travel to the
    device as uint8 (a quarter of the float size) and are converted there."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(np.ascontiguousarray(images))
    if device is not None:
        images = images.to(device, non_blocking=True)
    return images.permute(0, 3, 1, 2).float()


def _device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def embed_set(model: torch.nn.Module, images: np.ndarray, batch: int = 128, normalise: bool = True) -> np.ndarray:
    """Embeddings of (N, H, W, C) uint8 images, in float32 on the model's device; numpy out."""
    model.eval()
    device = _device_of(model)
    out = [model(to_tensor(images[i : i + batch], device)).float() for i in range(0, len(images), batch)]
    vectors = torch.cat(out)
    return (F.normalize(vectors) if normalise else vectors).cpu().numpy()


def verification_accuracy(vectors: np.ndarray, labels: np.ndarray, seed: int = 0, folds: int = 10) -> dict[str, float]:
    """Verification on the validation set: every genuine pair and as many random impostor pairs,
    split into ``folds``; each fold is decided by the threshold that is best on the others (as
    LFW's protocol), so the accuracy is never scored with a threshold fitted on itself. Also
    TAR@FAR=1e-2 and the threshold fitted on all pairs (what an export stores)."""
    rng = np.random.default_rng(seed)
    same_idx = [(i, j) for i in range(len(labels)) for j in range(i + 1, len(labels)) if labels[i] == labels[j]]
    if not same_idx:
        return {"val_accuracy": float("nan"), "val_tar_at_far_1e-2": float("nan"), "val_threshold": float("nan")}
    n = max(len(same_idx), 200)
    a, b = rng.integers(0, len(labels), (2, n * 3))
    diff_idx = [(i, j) for i, j in zip(a, b) if labels[i] != labels[j]][:n]
    pairs = np.array(same_idx + diff_idx)
    same = np.array([True] * len(same_idx) + [False] * len(diff_idx))
    d = np.linalg.norm(vectors[pairs[:, 0]] - vectors[pairs[:, 1]], axis=1)
    fold = rng.permutation(len(d)) % folds
    return {"val_accuracy": metrics.kfold_accuracy(d, same, fold).mean,
            "val_tar_at_far_1e-2": metrics.tar_at_far(d, same, 1e-2)[0],
            "val_threshold": metrics.best_threshold(d, same)}


def freeze_all_but(model: torch.nn.Module, prefixes: str) -> list[torch.nn.Parameter]:
    """Freeze every parameter whose name starts with none of the comma-separated ``prefixes``
    (empty: train everything); returns the trainable ones."""
    wanted = tuple(p.strip() for p in prefixes.split(",") if p.strip())
    if not wanted:
        return list(model.parameters())
    trainable = []
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.startswith(wanted))
        if parameter.requires_grad:
            trainable.append(parameter)
    if not trainable:
        names = sorted({n.split(".")[0] for n, _ in model.named_parameters()})
        raise BadInput(f"train_only={prefixes!r} matches no parameter; top-level names: {', '.join(names)}")
    return trainable


class Trainer:
    """Train ``config.backbone`` with ``config.loss`` on ``config.data``; writes ``config.output``."""

    def __init__(self, config: TrainConfig, progress: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.out = Path(config.output)
        self.progress = progress or (lambda message: log.info(message))
        # the device first: a config asking for a GPU that is not there fails before data loading
        self.placement: Placement = place(config.device, config.amp, config.loader_workers)
        self.device = self.placement.device
        if self.placement.note:
            self.progress(self.placement.note)
        torch.manual_seed(config.seed)
        if config.threads:
            torch.set_num_threads(config.threads)
        self.rng = np.random.default_rng(config.seed)
        # the backbone decides the input (dlib's network is 150x150 RGB whatever the config says)
        self.model, self.info = create_backbone(config.backbone, config.input_size, config.channels,
                                                config.embedding_dim, width=config.width)
        self.model.to(self.device)
        size, channels = self.info.input_size, self.info.channels
        align = None if config.align == "none" else config.align
        if align == "auto":
            align = chip_kind(config.backbone, size)
        data = load_folder(Path(config.data), size, channels, config.max_per_identity,
                           config.max_identities, align=align, detector=config.detector, progress=self.progress)
        self.skipped = list(data.skipped)
        # with a validation folder of the same people, validation is closed-set identification
        # (the head's accuracy) besides verification; otherwise a split of ``data``
        self.closed_set = bool(config.val_data) or config.split == "ratio"
        if config.val_data:
            val = load_folder(Path(config.val_data), size, channels, align=align,
                              detector=config.detector, progress=self.progress)
            self.skipped += val.skipped
            self.train_set, self.val_set = data, relabel(val, data.names)
        else:
            self.train_set, self.val_set = split(data, config.val_fraction, config.split, config.seed)
        self.head = None
        if config.loss != "triplet":
            self.head = make_head(config.loss, self.info.embedding_dim, len(self.train_set.names),
                                  config.scale, config.margin).to(self.device)
            imprint = self.info.pretrained if config.imprint is None else config.imprint
            if imprint and isinstance(self.head, MarginHead):
                self._imprint_head()
        trainable = freeze_all_but(self.model, config.train_only)
        groups = [{"params": trainable, "lr": config.lr * config.backbone_lr_factor}]
        if self.head is not None:
            groups.append({"params": self.head.parameters(), "lr": config.lr})
        if config.optimizer == "sgd":
            self.optimizer = torch.optim.SGD(groups, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
        elif config.optimizer == "adam":
            self.optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
        else:
            raise ValueError(f"optimizer must be sgd or adam, not {config.optimizer!r}")
        if config.schedule == "cosine":
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, max(config.epochs, 1))
        elif config.schedule == "step":
            self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, max(config.epochs // 3, 1), 0.1)
        else:
            self.scheduler = None
        self.scaler = self.placement.grad_scaler()
        self.augment = Augment(config.rotation_deg, config.zoom, config.shift, config.flip, config.colour)
        self.images_seen = 0  # by this process's fit(), for images/s
        self.train_seconds = 0.0
        self._epoch_speed = float("nan")
        self.epoch = 0
        self.best = -1.0
        self.stale = 0
        self.history: list[dict[str, Any]] = []

    @torch.no_grad()
    def _imprint_head(self) -> None:
        """Start each class weight at its identity's mean unit embedding, so fine-tuning a
        pretrained backbone begins from a sensible classifier instead of random weights whose
        large early gradients wreck the pretrained features."""
        vectors = torch.from_numpy(embed_set(self.model, self.train_set.images)).to(self.device)
        labels = torch.from_numpy(self.train_set.labels).long().to(self.device)
        centres = torch.zeros_like(self.head.weight).index_add_(0, labels, vectors)
        self.head.weight.copy_(F.normalize(centres))
        self.progress(f"head initialised from the mean embedding of each of {len(self.train_set.names)} identities")

    # -- checkpoints -------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything a resume needs, with every tensor on the CPU: a checkpoint written on a GPU
        loads on a machine without one, and the other way round."""
        return to_cpu({"model": self.model.state_dict(), "head": self.head.state_dict() if self.head else None,
                       "optimizer": self.optimizer.state_dict(),
                       "scheduler": self.scheduler.state_dict() if self.scheduler else None,
                       "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
                       "epoch": self.epoch, "best": self.best, "monitor": self.monitor, "stale": self.stale,
                       "history": self.history, "config": asdict(self.config), "info": asdict(self.info),
                       "identities": self.train_set.names, "device": str(self.device), "amp": self.placement.amp})

    def resume(self, checkpoint: Path) -> None:
        """Continue from ``checkpoint`` on this run's device, whichever device wrote it."""
        state = read_checkpoint(checkpoint)
        self.model.load_state_dict(state["model"])
        if self.head is not None and state["head"] is not None:
            self.head.load_state_dict(state["head"])
        self.optimizer.load_state_dict(state["optimizer"])  # moves its buffers to the parameters' device
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler.is_enabled() and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.best, self.stale = state["epoch"], state["best"], state["stale"]
        self.history = state["history"]
        self.progress(f"resumed from {checkpoint} at epoch {self.epoch}")

    # -- one epoch ---------------------------------------------------------------------------
    def _batches(self):
        data, cfg = self.train_set, self.config
        if cfg.loss == "triplet":
            yield from PKSampler(data.labels, cfg.p, cfg.k, seed=cfg.seed + self.epoch)
        else:
            order = self.rng.permutation(len(data.labels))
            for i in range(0, len(order) - 1, cfg.batch_size):
                yield order[i : i + cfg.batch_size]

    def _batch_stream(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(uint8 NHWC images, int64 labels) per batch, on the CPU. With ``loader_workers`` 0 the
        training process augments each batch itself (drawing from the run's generator, as it
        always has); otherwise DataLoader workers do, into pinned memory on a GPU."""
        data = self.train_set
        batches = [np.asarray(index) for index in self._batches()]
        batches = [index for index in batches if len(index) >= 2]
        if self.placement.loader_workers == 0:
            for index in batches:
                images = data.images[index]
                if self.config.augment:
                    images = augment_batch(images, self.augment, self.rng)
                yield torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(data.labels[index]).long()
            return
        from torch.utils.data import DataLoader

        source = AugmentedBatches(data.images, data.labels, batches, self.augment if self.config.augment else None,
                                  self.config.seed, self.epoch)
        with single_threaded_opencv():
            yield from DataLoader(source, batch_size=None, shuffle=False, num_workers=self.placement.loader_workers,
                                  pin_memory=self.placement.pin_memory)

    def train_epoch(self) -> float:
        """One pass over the training set; returns the mean loss. The backbone runs under
        ``amp``; the head, the miners and the loss in float32 (a margin scaled by 30-64 needs
        cosines more exact than bf16's three digits)."""
        self.model.train()
        if self.head is not None:
            self.head.train()
        losses = []
        start = time.perf_counter()
        seen = 0
        for images, labels in self._batch_stream():
            seen += len(labels)
            labels = labels.to(self.device, non_blocking=True)
            with self.placement.autocast():
                embeddings = self.model(to_tensor(images, self.device))
            embeddings = embeddings.float()
            if self.head is None:
                margin = 0.2 if self.config.margin is None else self.config.margin
                normed = F.normalize(embeddings).detach()
                if self.config.miner == "semi_hard":
                    a, p, n = semi_hard(normed, labels, margin)
                else:
                    a, p, n = batch_hard(normed, labels)
                loss = triplet_loss(embeddings[a], embeddings[p], embeddings[n], margin)
            else:
                loss = margin_cross_entropy(self.head(embeddings, labels), labels)
            self.optimizer.zero_grad()
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            losses.append(loss.detach())  # read back once per epoch: no device sync per step
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elapsed = time.perf_counter() - start
        self.images_seen += seen
        self.train_seconds += elapsed
        self._epoch_speed = seen / max(elapsed, 1e-9)
        if self.scheduler is not None:
            self.scheduler.step()
        return float(np.mean([float(value) for value in losses])) if losses else float("nan")

    @property
    def monitor(self) -> str:
        """The validation figure that picks the best epoch and drives early stopping."""
        return "val_identification_accuracy" if self.closed_set and self.head is not None else "val_accuracy"

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        raw = embed_set(self.model, self.val_set.images, normalise=False)
        result = verification_accuracy(F.normalize(torch.from_numpy(raw)).numpy(), self.val_set.labels,
                                       self.config.seed)
        if self.closed_set and self.head is not None:
            self.head.eval()
            predicted = self.head(torch.from_numpy(raw).to(self.device)).argmax(dim=1).cpu().numpy()
            result["val_identification_accuracy"] = float(np.mean(predicted == self.val_set.labels))
        return result

    def fit(self) -> dict[str, Any]:
        """Train until ``epochs`` or early stopping; returns the best validation figures."""
        self.out.mkdir(parents=True, exist_ok=True)
        self.config.save(self.out / "config.yaml")
        if not self.history:
            before = self.validate()
            self.history.append({"epoch": 0, "train_loss": float("nan"), **before, "seconds": 0.0,
                                 "images_per_second": float("nan")})
            self.progress(f"epoch 0: {self.monitor} {before[self.monitor]:.4f} (before training)")
            if self.info.pretrained:
                # fine-tuning must beat the untouched pretrained model to replace it as best.pt
                self.best = before[self.monitor]
                torch.save(self.state(), self.out / "best.pt")
        while self.epoch < self.config.epochs and self.stale < self.config.patience:
            start = time.perf_counter()
            loss = self.train_epoch()
            self.epoch += 1
            val = self.validate()
            row = {"epoch": self.epoch, "train_loss": loss, **val, "seconds": round(time.perf_counter() - start, 1),
                   "images_per_second": round(self._epoch_speed, 2)}
            self.history.append(row)
            improved = val[self.monitor] > self.best
            if improved:
                self.best, self.stale = val[self.monitor], 0
            else:
                self.stale += 1
            torch.save(self.state(), self.out / "last.pt")
            if improved:
                torch.save(self.state(), self.out / "best.pt")
            self._write_metrics()
            self.progress(f"epoch {self.epoch}/{self.config.epochs}: loss {loss:.4f}, "
                          f"{self.monitor} {val[self.monitor]:.4f}{' (best)' if improved else ''}")
        stopped_early = self.stale >= self.config.patience
        speed = self.images_seen / self.train_seconds if self.train_seconds else float("nan")
        result = {"epochs": self.epoch, "monitor": self.monitor, "best": self.best, "stopped_early": stopped_early,
                  "train_images": int(len(self.train_set.labels)), "train_identities": len(self.train_set.names),
                  "val_images": int(len(self.val_set.labels)), "val_identities": len(self.val_set.names),
                  "skipped_images": len(self.skipped), "output": str(self.out),
                  # training throughput of this call: images through forward+backward (augmentation
                  # included, validation not) per second of training wall-clock
                  "images_per_second": round(speed, 2), "train_seconds": round(self.train_seconds, 1),
                  **self.placement.describe()}
        if self.placement.note:
            result["device_note"] = self.placement.note
        (self.out / "run.json").write_text(jsonout.dumps(result) + "\n")
        return result

    def _write_metrics(self) -> None:
        keys = list(dict.fromkeys(key for row in self.history for key in row))  # older rows may lack newer keys
        with open(self.out / "metrics.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, keys)
            writer.writeheader()
            writer.writerows(self.history)
        (self.out / "metrics.json").write_text(jsonout.dumps(self.history) + "\n")
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return
        fig, ax = plt.subplots(figsize=(5, 3.5))
        epochs = [h["epoch"] for h in self.history]
        ax.plot(epochs, [h["train_loss"] for h in self.history], label="train loss")
        ax.set_xlabel("epoch"), ax.set_ylabel("loss")
        twin = ax.twinx()
        twin.plot(epochs, [h[self.monitor] for h in self.history], color="C1", label=self.monitor)
        twin.set_ylabel(self.monitor.replace("_", " "))
        fig.legend(loc="upper center", fontsize=7)
        fig.tight_layout()
        fig.savefig(self.out / "curves.png", dpi=100)
        plt.close(fig)
