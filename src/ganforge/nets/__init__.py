"""Network families. Contract: G(z, y=None) -> x, D(x, y=None) -> logits of shape [N]."""
from . import began, dcgan, infogan, mlp, resnet, unet  # noqa: F401  (register the network families)
from .adapt import adapt_discriminator, adapt_generator  # noqa: F401
