"""The functional API: every op as a plain function (``functional.relu(x)``)."""

from gputrain.autograd.ops import *  # noqa: F403
from gputrain.autograd.ops import __all__  # noqa: F401
