"""Sales scripts: the model, validation, rendering, matching and variants (issue 7)."""
