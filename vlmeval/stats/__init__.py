"""Statistics: confidence intervals, resampling of per-sample records, paired tests."""
