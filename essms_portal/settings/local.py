"""Local demo and development: debug on, everything embedded (see base.py defaults)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
