"""Labels realised after the fact (forward returns → buy / sell / hold), never fed to the decision they label."""

from thunderline.labels.forward import (
    LABEL_BUY,
    LABEL_HOLD,
    LABEL_SELL,
    balanced_dead_band,
    balanced_forward_labels,
    forward_labels,
    forward_returns,
    label_column,
    return_column,
)

__all__ = [
    "LABEL_BUY",
    "LABEL_HOLD",
    "LABEL_SELL",
    "balanced_dead_band",
    "balanced_forward_labels",
    "forward_labels",
    "forward_returns",
    "label_column",
    "return_column",
]
