"""CNSA decisions: numbering, frozen snapshot, PDF letter, public verification, ZIP export."""
