"""A published loss as a drop-in PyTorch criterion, in three lines."""
import torch

import symloss

criterion = symloss.zoo.get("focal").module()  # focal loss, gamma = 2 (Lin et al. 2017)
loss = criterion(torch.randn(8, 10, requires_grad=True), torch.randint(0, 10, (8,)))
loss.backward()
print(f"focal loss on a random batch: {loss.item():.4f}")
