"""A stand-in for a model library (torchvision, timm): layer classes nnspec cannot expand."""
