"""The classifiers whose test accuracy judges an augmentation: a small CNN, logistic regression, an RBF SVM.

All three take ``(n, C, H, W)`` float32 images in [-1, 1] and integer labels, are deterministic under their
seed, and give class probabilities (the class-consistency supervisor uses them).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import nn

from ..errors import InputError, missing_extra
from ..models.dcgan import reproducible

__all__ = [
    "CLASSIFIERS",
    "CNN_EPOCHS",
    "Classifier",
    "CNNClassifier",
    "SklearnClassifier",
    "make_classifier",
    "scores",
]

ClassifierKind = Literal["cnn", "logreg", "svm"]
#: Names accepted by :func:`make_classifier`.
CLASSIFIERS: tuple[str, ...] = ("cnn", "logreg", "svm")
#: Default CNN training epochs.
CNN_EPOCHS: int = 10


class Classifier(Protocol):
    """What the pipeline needs from a classifier."""

    def fit(self, x: NDArray[np.float32], y: NDArray[np.int64]) -> Classifier:
        """Train on images ``(n, C, H, W)`` and labels ``(n,)``."""
        ...

    def predict_proba(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        """``(n, n_classes)`` probabilities."""
        ...


class _SmallCNN(nn.Module):
    def __init__(self, channels: int, n_classes: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(16, 32, 3, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2, ceil_mode=True),
            nn.AdaptiveAvgPool2d(3),
            nn.Flatten(),
            nn.Linear(32 * 9, 64),
            nn.ReLU(inplace=True),
            nn.Dropout(0.3),
            nn.Linear(64, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        return out


class CNNClassifier:
    """A two-block CNN (Conv-BN-ReLU-MaxPool ×2 → 3×3 average pool → 64 → classes), Adam, cross-entropy.

    Args:
        n_classes: Number of classes.
        seed: Seed of initialisation and minibatch order.
        epochs: Passes over the training set.
        batch_size: Minibatch size.
        lr: Adam learning rate.
        threads: torch threads while training.
    """

    def __init__(
        self,
        n_classes: int,
        *,
        seed: int = 0,
        epochs: int = CNN_EPOCHS,
        batch_size: int = 32,
        lr: float = 2e-3,
        threads: int = 1,
    ) -> None:
        self.n_classes = n_classes
        self.seed = seed
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.threads = threads
        self.model: _SmallCNN | None = None

    def fit(self, x: NDArray[np.float32], y: NDArray[np.int64]) -> CNNClassifier:
        """Train from scratch on ``x`` ``(n, C, H, W)`` and ``y`` ``(n,)``."""
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
        n = int(xt.shape[0])
        with reproducible(self.seed, self.threads) as gen:
            model = _SmallCNN(int(xt.shape[1]), self.n_classes)
            opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=1e-4)
            model.train()
            for _ in range(self.epochs):
                perm = torch.randperm(n, generator=gen)
                for i in range(0, n, self.batch_size):
                    idx = perm[i : i + self.batch_size]
                    if idx.numel() < 2:  # BatchNorm needs two samples
                        continue
                    loss = F.cross_entropy(model(xt[idx]), yt[idx])
                    opt.zero_grad(set_to_none=True)
                    torch.autograd.backward(loss)
                    opt.step()
        self.model = model.eval().requires_grad_(False)
        return self

    def _trained(self, what: str) -> _SmallCNN:
        if self.model is None:
            raise InputError(f"CNNClassifier.{what} before fit()")
        return self.model

    def predict_proba(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        """``(n, n_classes)`` softmax probabilities."""
        model = self._trained("predict_proba")
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        out = []
        with torch.inference_mode():
            for i in range(0, int(xt.shape[0]), 512):
                out.append(torch.softmax(model(xt[i : i + 512]), dim=1).double().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.n_classes))

    def embed(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        """``(n, 64)`` penultimate features (after the hidden layer's ReLU): the classifier's embedding."""
        model = self._trained("embed")
        head = model.body[:-2]  # everything before Dropout and the output layer
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        out = []
        with torch.inference_mode():
            for i in range(0, int(xt.shape[0]), 512):
                out.append(head(xt[i : i + 512]).double().numpy())
        return np.concatenate(out) if out else np.zeros((0, 64), dtype=np.float64)

    def predict_proba_mc(self, x: NDArray[np.float32], passes: int = 10, seed: int = 0) -> NDArray[np.float64]:
        """``(passes, n, n_classes)`` probabilities with dropout left on (MC dropout; BatchNorm stays in eval).

        Each pass draws one dropout mask (under ``seed``) and applies it to every image: the passes are a fixed
        ensemble of thinned networks, so an image's probabilities never depend on the batch it came in.
        """
        model = self._trained("predict_proba_mc")
        head, dropout, last = model.body[:-2], model.body[-2], model.body[-1]
        assert isinstance(dropout, nn.Dropout)
        p = float(dropout.p)
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        gen = torch.Generator().manual_seed(int(seed))
        with torch.inference_mode():
            feats = head(xt)  # (n, 64), the same for every pass
            keep = (torch.rand((passes, 1, feats.shape[1]), generator=gen) >= p).to(feats.dtype) / (1.0 - p)
            logits = last(feats.unsqueeze(0) * keep)
            return torch.softmax(logits, dim=-1).double().numpy()


class SklearnClassifier:
    """scikit-learn's ``LogisticRegression`` or an RBF ``SVC`` (sigmoid-calibrated) on standardised pixels.

    Args:
        kind: ``"logreg"`` or ``"svm"``.
        n_classes: Number of classes (columns of :meth:`predict_proba`, also for classes absent in training).
        seed: ``random_state``.
    """

    def __init__(self, kind: Literal["logreg", "svm"], n_classes: int, *, seed: int = 0) -> None:
        try:
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler
            from sklearn.svm import SVC
        except ImportError as exc:  # pragma: no cover
            raise missing_extra("sklearn", "augment", exc) from exc
        self.kind = kind
        self.n_classes = n_classes
        self.seed = seed
        est: Any = LogisticRegression(C=0.1, max_iter=500, random_state=seed) if kind == "logreg" else SVC(kernel="rbf")
        self.pipeline: Any = make_pipeline(StandardScaler(), est)

    def fit(self, x: NDArray[np.float32], y: NDArray[np.int64]) -> SklearnClassifier:
        """Train on flattened pixels (the SVM's probabilities are calibrated by sigmoid with up to 5-fold CV)."""
        if self.kind == "svm":
            from sklearn.calibration import CalibratedClassifierCV
            from sklearn.model_selection import StratifiedKFold
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler
            from sklearn.svm import SVC

            cv = StratifiedKFold(
                int(max(2, min(5, np.bincount(np.asarray(y)).min()))), shuffle=True, random_state=self.seed
            )
            self.pipeline = make_pipeline(StandardScaler(), CalibratedClassifierCV(SVC(kernel="rbf"), cv=cv))
        self.pipeline.fit(np.asarray(x, dtype=np.float64).reshape(len(x), -1), np.asarray(y))
        return self

    def predict_proba(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        """``(n, n_classes)`` probabilities (zero for classes the model never saw)."""
        p = self.pipeline.predict_proba(np.asarray(x, dtype=np.float64).reshape(len(x), -1))
        out = np.zeros((len(x), self.n_classes), dtype=np.float64)
        out[:, np.asarray(self.pipeline.classes_, dtype=np.int64)] = p
        return out


def make_classifier(kind: str, n_classes: int, *, seed: int, threads: int = 1, epochs: int = CNN_EPOCHS) -> Classifier:
    """Build an untrained classifier by name (``cnn``, ``logreg`` or ``svm``)."""
    if kind == "cnn":
        return CNNClassifier(n_classes, seed=seed, threads=threads, epochs=epochs)
    if kind in ("logreg", "svm"):
        return SklearnClassifier(kind, n_classes, seed=seed)  # type: ignore[arg-type]
    raise InputError(f"classifier must be one of {', '.join(CLASSIFIERS)}, found {kind!r}")


def scores(y_true: NDArray[np.int64], proba: NDArray[np.float64], n_classes: int) -> dict[str, float]:
    """Accuracy and macro precision, recall and F1 (zero for classes never predicted)."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    pred = np.asarray(proba).argmax(axis=1)
    p, r, f, _ = precision_recall_fscore_support(
        y_true, pred, labels=list(range(n_classes)), average="macro", zero_division=0
    )
    return {"accuracy": float(accuracy_score(y_true, pred)), "precision": float(p), "recall": float(r), "f1": float(f)}
