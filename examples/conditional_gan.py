"""A conditional GAN on MNIST: ask for a digit, get that digit.

Run: python examples/conditional_gan.py   (about 3 minutes on 2 CPU cores)
"""
import ganforge

run = ganforge.train("mnist-cgan", run_dir="runs/example-cgan", resume="auto")
gen = ganforge.load_generator("runs/example-cgan")
sevens = gen.decode(gen.sample(8, seed=0, y=7))             # eight 7s
one_each = gen.decode(gen.sample(10, seed=0, y=list(range(10))))  # 0, 1, ..., 9
print(sevens.shape, one_each.shape, "- the same from the CLI: ganforge generate runs/example-cgan -n 8 --class 7 --out 7s.png")
