"""Applicant pages for dossiers: edit with a live quote, attachments, submission, receipt."""
