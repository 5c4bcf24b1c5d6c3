"""vbr's built-in behaviour, registered through the same hooks as any third-party plugin.

Each implementation is marked ``trylast=True`` so an installed plugin can take precedence.
"""
