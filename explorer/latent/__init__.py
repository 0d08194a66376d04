"""Latent-space pictures: projections to 2D/3D and the training snapshots played as an animation."""
