"""DCGAN on MNIST with the public API: train the preset, then look at the pictures it wrote.

Run: python examples/mnist_dcgan.py   (about 2 minutes on 2 CPU cores)
"""
import ganforge

# The preset is a few lines of YAML (configs/mnist-dcgan.yaml); any key can be overridden.
run = ganforge.train("mnist-dcgan", ["train.steps=3000"], run_dir="runs/example-dcgan", resume="auto")

# The run directory now holds samples/ (a grid every 250 steps), real_vs_fake.png, losses.png,
# samples.gif, checkpoints/ and generator.safetensors. Sample 16 new digits as uint8 images:
gen = ganforge.load_generator("runs/example-dcgan")
images = gen.decode(gen.sample(16, seed=1))  # numpy uint8, shape (16, 28, 28, 1)
print("generated", images.shape, images.dtype, "- pictures in runs/example-dcgan/")
