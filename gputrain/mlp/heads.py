"""What the network's outputs mean: the loss trained on, class probabilities, predictions.

- ``softmax`` (classification, the default): one logit per class, fused softmax +
  cross-entropy (two classes included).
- ``sigmoid`` (binary classification, ``--output-unit sigmoid``): one logit, the Bernoulli output
  unit, fused sigmoid + binary cross-entropy; the logit is the log-odds of the second class.
- ``regress``: one output, mean squared error on the standardised target.

Every method takes device arrays or tensors and makes no synchronising call.
``train_loss(h, last, y, tally)`` is the training step's loss of ``last(h)`` (``last`` the
network's final Linear, ``h`` its input); it adds the batch's loss sum and correct count
to ``tally`` (float64 (2,), on the device) for the loop to read when it reports. The
softmax head folds ``last``'s bias and the tallies into its fused loss kernels.
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
    def train_loss(h: Tensor, last, y, tally) -> Tensor:
        return ops.softmax_cross_entropy(ops.matmul(h, last.weight), y, bias=last.bias,
                                         tally=tally)

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
    def train_loss(h: Tensor, last, y, tally) -> Tensor:
        out = last(h)
        loss = SigmoidHead.loss(out, y)
        _tally(tally, loss.data, len(y), (SigmoidHead.predicted(out.data) == y).sum())
        return loss

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

    @staticmethod
    def train_loss(h: Tensor, last, y, tally) -> Tensor:
        loss = RegressionHead.loss(last(h), y)
        _tally(tally, loss.data, len(y), None)
        return loss


def _tally(tally, mean_loss, rows: int, hits) -> None:
    tally[0] += mean_loss * rows
    if hits is not None:
        tally[1] += hits


def make_head(task: str, output: str = "softmax"):
    if task != "classify":
        return RegressionHead
    return SigmoidHead if output == "sigmoid" else SoftmaxHead
