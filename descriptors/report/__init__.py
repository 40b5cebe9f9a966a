"""``lrox report``: statistics, the design rules, the baseline model, figures, and the HTML page."""
