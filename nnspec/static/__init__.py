"""Static analysis backends: summaries, checkpoint diffs, graphs and the parameter budget."""
