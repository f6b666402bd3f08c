"""The risk processor: features, scoring, policies and decisions."""
