"""The instruction back office: queue, review page, scoring, complements, proposal, decision."""
