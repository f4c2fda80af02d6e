"""The evaluation engine: data to samples, generation with resume and shards, scoring, and the run."""
