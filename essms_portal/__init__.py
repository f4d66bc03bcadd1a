"""ESMS numérique portal project package. Loading Celery here registers the shared tasks."""

from .celery import app as celery_app

__all__ = ("celery_app",)
