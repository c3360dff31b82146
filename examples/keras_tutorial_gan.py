"""The GAN of the Keras tutorials, its models exactly as the tutorials write them, trained by ganforge.

    KERAS_BACKEND=torch python examples/keras_tutorial_gan.py --steps 3000
    ganforge train mnist-dcgan --set model.g=examples/keras_tutorial_gan.py:build_generator \\
                               --set model.d=examples/keras_tutorial_gan.py:build_discriminator

Keras 3 runs on PyTorch when KERAS_BACKEND=torch is set before keras is imported (this file sets it);
a Keras model is then a torch module, and ganforge trains it with no wrapper: BatchNormalization and
Dropout train during updates, the final sigmoid is read as exact logits, checkpoints resume exactly,
and samples come back in the model's own NHWC layout. The data is prepared as the tutorials prepare
it: x_train scaled to [-1, 1], with a channel axis at the end.

Besides the MLP pair, the file has the Keras-2-style upsampling DCGAN generator and strided-conv
discriminator with Dropout that the DCGAN tutorials use (build_dcgan_generator / build_dcgan_discriminator).
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

from keras import Sequential  # noqa: E402
from keras.layers import (Activation, BatchNormalization, Conv2D, Dense, Dropout, Flatten,  # noqa: E402
                          LeakyReLU, Reshape, UpSampling2D)


def build_generator():
    return Sequential([Dense(256, input_dim=100), LeakyReLU(0.2), BatchNormalization(),
                       Dense(512), LeakyReLU(0.2), BatchNormalization(),
                       Dense(1024), LeakyReLU(0.2), BatchNormalization(),
                       Dense(784, activation='tanh'), Reshape((28, 28, 1))])


def build_discriminator():
    return Sequential([Flatten(input_shape=(28, 28, 1)), Dense(1024), LeakyReLU(0.2),
                       Dense(512), LeakyReLU(0.2), Dense(256), LeakyReLU(0.2), Dense(1, activation='sigmoid')])


def build_dcgan_generator(z_dim: int = 100):
    return Sequential([Dense(128 * 7 * 7, activation="relu", input_dim=z_dim), Reshape((7, 7, 128)),
                       UpSampling2D(), Conv2D(128, kernel_size=3, padding="same"),
                       BatchNormalization(momentum=0.8), Activation("relu"),
                       UpSampling2D(), Conv2D(64, kernel_size=3, padding="same"),
                       BatchNormalization(momentum=0.8), Activation("relu"),
                       Conv2D(1, kernel_size=3, padding="same"), Activation("tanh")])


def build_dcgan_discriminator():
    return Sequential([Conv2D(32, kernel_size=3, strides=2, input_shape=(28, 28, 1), padding="same"),
                       LeakyReLU(0.2), Dropout(0.25),
                       Conv2D(64, kernel_size=3, strides=2, padding="same"), BatchNormalization(momentum=0.8),
                       LeakyReLU(0.2), Dropout(0.25),
                       Conv2D(128, kernel_size=3, strides=2, padding="same"), BatchNormalization(momentum=0.8),
                       LeakyReLU(0.2), Dropout(0.25),
                       Flatten(), Dense(1, activation="sigmoid")])


def main() -> None:
    import keras

    import ganforge
    from ganforge.data.images import mnist_arrays

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--dcgan", action="store_true", help="the convolutional pair instead of the MLP pair")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run-dir", default="runs/keras-tutorial-gan")
    a = p.parse_args()
    keras.utils.set_random_seed(a.seed)  # Keras draws its initial weights from its own seed
    G, D = (build_dcgan_generator(), build_dcgan_discriminator()) if a.dcgan else (build_generator(),
                                                                                   build_discriminator())
    x_train = mnist_arrays("train")[0]  # uint8 [60000, 28, 28] (keras.datasets.mnist needs the internet)
    x_train = (x_train.astype("float32") - 127.5) / 127.5
    x_train = x_train[..., None]  # NHWC, as the tutorials prepare it
    run = ganforge.fit(G, D, x_train, z_dim=100, steps=a.steps, batch_size=64, seed=a.seed, run_dir=a.run_dir,
                       resume="auto")
    samples = run.generator.sample(16, seed=0)  # [16, 28, 28, 1]: the model's own layout
    print(f"samples {tuple(samples.shape)}; pictures in {a.run_dir}/real_vs_fake.png")


if __name__ == "__main__":
    main()
