"""The figures the playbook runs on, computed from the stored calls (see figures.py)."""
