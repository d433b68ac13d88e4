"""codealign: align code and hardware language models with execution feedback."""
