"""Online evaluation: rules that score live traces in the background."""
