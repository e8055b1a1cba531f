"""What the network's outputs mean: the loss trained on, class probabilities, predictions.

- ``softmax`` (classification, the default): one logit per class, fused softmax +
  cross-entropy (two classes included).
- ``sigmoid`` (binary classification, ``--output-unit sigmoid``): one logit, the Bernoulli output
  unit, fused sigmoid + binary cross-entropy; the logit is the log-odds of the second class.
- ``regress``: one output, mean squared error on the standardised target.

Every method takes device arrays or tensors and makes no synchronising call.
"""

from __future__ import annotations

from gputrain.autograd import Tensor, ops
from gputrain.autograd.tensor import array_module


class SoftmaxHead:
    classify = True

    @staticmethod
    def outputs(n_classes: int) -> int:
        return n_classes

    @staticmethod
    def loss(out: Tensor, y, reduction: str = "mean") -> Tensor:
        return ops.softmax_cross_entropy(out, y, reduction=reduction)

    @staticmethod
    def predicted(out):
        """Class index of every row of the output array ``out``."""
        return out.argmax(axis=1)

    @staticmethod
    def proba(out):
        return ops.softmax(Tensor(out)).data


class SigmoidHead:
    classify = True

    @staticmethod
    def outputs(n_classes: int) -> int:
        return 1

    @staticmethod
    def loss(out: Tensor, y, reduction: str = "mean") -> Tensor:
        target = y.astype(out.dtype)[:, None]
        return ops.sigmoid_bce_with_logits(out, target, reduction=reduction)

    @staticmethod
    def predicted(out):
        return (out[:, 0] > 0).astype(array_module(out).int32)

    @staticmethod
    def proba(out):
        xp = array_module(out)
        p = ops.stable_sigmoid(out)
        return xp.concatenate([1 - p, p], axis=1)


class RegressionHead:
    classify = False

    @staticmethod
    def outputs(n_classes: int) -> int:
        return 1

    @staticmethod
    def loss(out: Tensor, y, reduction: str = "mean") -> Tensor:
        return ops.mse(out, y, reduction=reduction)


def make_head(task: str, output: str = "softmax"):
    if task != "classify":
        return RegressionHead
    return SigmoidHead if output == "sigmoid" else SoftmaxHead
