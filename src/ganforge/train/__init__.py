"""Training: state (what a checkpoint holds), the loop, EMA, run directories and the distributed edge."""
