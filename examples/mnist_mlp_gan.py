"""The tutorials' fully connected MNIST GAN (G 256-512-1024, D 1024-512-256 with dropout, BCE).

Run: python examples/mnist_mlp_gan.py
"""
import ganforge

cfg = ganforge.resolve("mnist-mlp-gan")   # a typed Config; print(cfg.to_yaml()) shows every value
print(cfg.model)
run = ganforge.train(cfg, ["train.steps=3000"], run_dir="runs/example-mlp-gan", resume="auto")
print("last log line:", run.history[-1] if run.history else "(already trained)")
