"""Sources: the pipelines' first stage — pull (EDGAR poller) or stream (market WebSocket adapters) raw
data into the same landing paths and micro-batch code that files and the HTTP ingress use."""
