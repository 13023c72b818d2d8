"""Serving pixelrnn_tf models: SavedModel export for TF Serving, a gRPC
client, and a small wire-compatible local server for development and tests."""
