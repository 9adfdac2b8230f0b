"""A plain PyTorch training loop on a torchvision model, with a symbolic loss as the criterion.

The data are the embedded handwritten digits (32x32); any DataLoader works the same way.
Runs on the CPU in well under two minutes.
"""
import torch
import torchvision

import symloss

torch.manual_seed(0)
digits = symloss.data.load("digits")
train_images, train_labels = digits.train.images.float() / 255, digits.train.labels
val_images, val_labels = digits.val.images.float() / 255, digits.val.labels

model = torchvision.models.resnet18(num_classes=10)
criterion = symloss.Loss.parse("-y*log(yhat) + (y - yhat)**2").module()  # any expression in y and yhat
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

for epoch in range(3):
    model.train()
    for batch in torch.randperm(len(train_labels)).split(64):
        optimizer.zero_grad()
        loss = criterion(model(train_images[batch]), train_labels[batch])
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(val_images).argmax(1) == val_labels).float().mean().item()
    print(f"epoch {epoch + 1}: training loss {loss.item():.4f}, validation accuracy {accuracy:.3f}")
