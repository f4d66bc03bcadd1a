"""Reporting: the dashboard and the CSV/XLSX exports of the back office."""
