"""Training: models (incl. the offline tiny model), curriculum SFT / RFT and DPO on TRL.

Nothing here is imported eagerly: torch and TRL load only when a function that needs them runs.
"""
