"""Evaluation of decisions against realised labels: paper PnL, metrics, the promotion harness.

    from thunderline.evaluation import CostModel, paper_trades, performance
    trades = paper_trades(position, fwd_return, entry_spread_bps, exit_spread_bps, CostModel(fee_bps=0.5))
    perf = performance(trades.position, confidence, fwd_return, trades.gross, trades.cost, trades.net)

:mod:`~thunderline.evaluation.pnl` (positions, costs, attribution),
:mod:`~thunderline.evaluation.metrics` (hit rate, IC, turnover, drawdown),
:mod:`~thunderline.evaluation.harness` (monthly metrics, replay evidence),
:mod:`~thunderline.evaluation.promotion` (blue/green state machine on MLflow aliases).
"""

from thunderline.evaluation.metrics import Performance, max_drawdown, performance, spearman
from thunderline.evaluation.pnl import CostModel, PaperTrades, attribute, live_weights, paper_trades, positions

__all__ = ["CostModel", "PaperTrades", "Performance", "attribute", "live_weights", "max_drawdown", "paper_trades",
           "performance", "positions", "spearman"]
