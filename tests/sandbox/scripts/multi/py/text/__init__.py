"""A package of the script's own, importing its submodule relatively."""

from .case import shout

__all__ = ["shout"]
