"""Helpers of Tools/real-models-check.py: the venv, the model zoo, planting, modeltool calls."""
