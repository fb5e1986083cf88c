"""Flow control: landing-area bookkeeping, micro-batch context, backpressure."""
