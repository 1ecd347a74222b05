"""What tests share: one clock (clock.py), one PDF reader (pdf.py), one scenario builder (scenario.py)."""
