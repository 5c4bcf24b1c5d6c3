"""Scoring answers against value rubrics. Nothing here may import equality data."""
