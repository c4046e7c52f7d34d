"""The image history buffer of Shrivastava et al. 2017, as used by CycleGAN: the discriminator
sees a mix of the newest fakes and up to `size` older ones, which damps oscillation.

Its randomness comes from its own `torch.Generator`, and `state_dict` holds only tensors, so a
resumed run draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

import torch


class ImagePool:
    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def query(self, batch: torch.Tensor) -> torch.Tensor:
        """Return a batch of the same shape: each image is the new one, or (once the pool is
        full, with probability 1/2) a stored one that the new image then replaces."""
        if self.size == 0:
            return batch
        out = []
        for image in batch.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand(1, generator=self.generator).item() < 0.5:
                idx = int(torch.randint(0, self.size, (1,), generator=self.generator).item())
                out.append(self.images[idx].clone())
                self.images[idx] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict:
        stacked = torch.cat(self.images, 0).cpu() if self.images else torch.empty(0)
        return {"images": stacked, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict, device: torch.device | str = "cpu") -> None:
        images = state["images"]
        self.images = [img.unsqueeze(0).to(device) for img in images] if images.numel() else []
        self.generator.set_state(state["generator"])
